DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DJANGO_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
INSTALLED_APPS = DJANGO_APPS + ["shop.apps.ShopConfig"]
