DROP TABLE runbooks;
DROP TABLE deploy_templates;
