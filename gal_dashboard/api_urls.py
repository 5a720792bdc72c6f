"""REST API routes, mounted under /api/. (Filled in by the REST API work.)"""

urlpatterns: list = []
