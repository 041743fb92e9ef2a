from django.shortcuts import redirect


def home(request):
    """The site's front page: the account when signed in, else the sign-in page."""
    return redirect("magiclink_auth_web:account" if request.user.is_authenticated else "magiclink_auth_web:start")
