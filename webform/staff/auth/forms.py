"""The sign-in, forgot-password and choose-a-password forms."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from crm_store.staff.passwords import MAX_LENGTH

from ..forms import TOO_LONG

EMAIL_REQUIRED = lazy_gettext("Enter your email address.")
PASSWORD_REQUIRED = lazy_gettext("Enter your password.")
EMAIL_LENGTH = Length(max=255, message=TOO_LONG)


class SignInForm(FlaskForm):
    """Email and password, and the page to go back to."""

    email = EmailField(lazy_gettext("Email"), validators=[DataRequired(EMAIL_REQUIRED), EMAIL_LENGTH])
    password = PasswordField(lazy_gettext("Password"),
                             validators=[DataRequired(PASSWORD_REQUIRED), Length(max=MAX_LENGTH, message=TOO_LONG)])
    next = HiddenField()


class ForgotPasswordForm(FlaskForm):
    """The email address to send a reset link to."""

    email = EmailField(lazy_gettext("Email"), validators=[DataRequired(EMAIL_REQUIRED), EMAIL_LENGTH])


class NewPasswordForm(FlaskForm):
    """A new password, typed twice (the rules are the store's: `crm_store.staff.passwords`)."""

    password = PasswordField(lazy_gettext("New password"), validators=[DataRequired(PASSWORD_REQUIRED)])
    password_again = PasswordField(
        lazy_gettext("New password again"), validators=[DataRequired(lazy_gettext("Type the new password again."))]
    )
