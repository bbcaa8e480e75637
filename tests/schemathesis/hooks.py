"""schemathesis hooks for every ironbark service (SCHEMATHESIS_HOOKS, set by run.sh).

Keep them service-neutral, or keyed on the media type or path they serve.
"""

import schemathesis

# The image API's PATCH bodies are JSON under Glance's own media types
# (the JSON-patch form and the older draft-4 form): send them as JSON.
schemathesis.serializer.alias(
    [
        "application/openstack-images-v2.1-json-patch",
        "application/openstack-images-v2.0-json-patch",
    ],
    "application/json",
)
