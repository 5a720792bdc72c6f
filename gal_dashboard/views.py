"""Pages. (The home page is filled in by the admin/demo work.)"""

from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("GAL Live")
