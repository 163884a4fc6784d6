from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.users"
    label = "users"
    verbose_name = "Users"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from ..middleware import throttling

        # Failed sign-ins count towards the brute-force limits; a success clears the account's.
        user_login_failed.connect(throttling.count_failed_sign_in, dispatch_uid="throttle-failed-sign-in")
        user_logged_in.connect(throttling.forget_failed_sign_ins, dispatch_uid="throttle-sign-in")
