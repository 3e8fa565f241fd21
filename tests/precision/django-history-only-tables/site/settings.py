INSTALLED_APPS = ["shop", "audit"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql"}}
