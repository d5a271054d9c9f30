"""Feature modules: one folder per feature, each with views, service, models, api and templates."""
