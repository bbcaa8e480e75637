# Horizon's local settings for the ironbark integration test: the identity
# URL is the only address Horizon is given; every other service comes from
# the catalog of the tokens ironbark issues. Copied by tests/horizon/run.sh
# into the venv's openstack_dashboard/local/.
import os

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = os.environ["HORIZON_SECRET_KEY"]
OPENSTACK_KEYSTONE_URL = os.environ["IRONBARK_IDENTITY_URL"].rstrip("/") + "/v3"
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = "Default"
OPENSTACK_KEYSTONE_DEFAULT_ROLE = "member"
OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = False
# the bare-metal fleet is listed to system readers: offer admins the
# system scope, as for a real Ironic with its default policy
SYSTEM_SCOPE_SERVICES = ["baremetal"]

# no memcached here: sessions in the process's memory (one runserver)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# assets are compressed once by `compress` before the server starts
COMPRESS_OFFLINE = True
STATIC_ROOT = os.environ["HORIZON_STATIC_ROOT"]

# a bare-metal cloud: no volumes, routers, floating IPs or hypervisor
# features to offer in the launch dialog
LAUNCH_INSTANCE_DEFAULTS = {
    "create_volume": False,
    "hide_create_volume": True,
    "disable_volume": True,
    "disable_volume_snapshot": True,
    "disable_instance_snapshot": True,
    "enable_scheduler_hints": False,
    "config_drive": False,
}
OPENSTACK_NEUTRON_NETWORK = {
    "enable_router": False,
    "enable_quotas": False,
    "enable_ipv6": False,
    "enable_distributed_router": False,
    "enable_ha_router": False,
    "enable_fip_topology_check": False,
    "enable_rbac_policy": False,
}
OPENSTACK_HYPERVISOR_FEATURES = {"can_set_mount_point": False, "can_set_password": False, "requires_keypair": False}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"level": "INFO", "class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO"},
        "horizon": {"handlers": ["console"], "level": "INFO"},
        "openstack_dashboard": {"handlers": ["console"], "level": "INFO"},
        "openstack_auth": {"handlers": ["console"], "level": "DEBUG"},
        "ironic_ui": {"handlers": ["console"], "level": "DEBUG"},
        "keystoneauth": {"handlers": ["console"], "level": "INFO"},
    },
}
