"""The HTTP transport (django-ninja) for the mobile app, the bot's web parts and integrations."""
