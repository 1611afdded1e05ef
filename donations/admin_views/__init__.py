"""Staff screens in the Wagtail admin, a module per area; public pages are in views.py."""
