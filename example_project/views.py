from django.shortcuts import redirect


def home(request):
    """The site's front page: the account when signed in, else the sign-in page."""
    signed_in = request.user.is_authenticated
    return redirect("magiclink_auth_web:account" if signed_in else "magiclink_auth_web:start")
