"""A signed-in user's own account: password change, their sessions, their second factor."""
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..services import second_factor, sessions, signin
from ..services.staff import StaffError

bp = Blueprint("account", __name__, url_prefix="/account")


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[Optional(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=200)])


class EndSessionForm(FlaskForm):
    session_id = HiddenField(validators=[Optional(), Length(max=64)])


class EnrolForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app"), validators=[DataRequired(), Length(max=20)])


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])


@bp.before_request
@login_required
def _signed_in():
    return None


@bp.route("/")
def index():
    return render_template("auth/account.html", sessions=sessions.sessions_of(current_user),
                           current_key=sessions.current_key(session.get("sid")), end_form=EndSessionForm(),
                           enrolled=second_factor.enrolled(current_user),
                           required=second_factor.required_for(current_user),
                           unused_codes=second_factor.unused_recovery_codes(current_user),
                           confirm_form=ConfirmPasswordForm())


@bp.route("/password", methods=["GET", "POST"])
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            signin.change_own_password(current_user, form.current.data, form.new.data, form.confirm.data,
                                       keep_token=session.get("sid"))
        except StaffError as error:
            flash(str(error), "error")
        else:
            flash(_("Your password was changed. Your other sessions were signed out."), "success")
            return redirect(url_for("account.index"))
    return render_template("auth/password.html", form=form, forced=current_user.must_change_password)


@bp.route("/sessions/end", methods=["POST"])
def end_sessions():
    form = EndSessionForm()
    if form.validate_on_submit():
        ended = signin.end_own_sessions(current_user, session.get("sid"), form.session_id.data or None)
        flash(_("Sessions signed out: %(n)d.", n=ended), "success")
    return redirect(url_for("account.index"))


@bp.route("/second-factor", methods=["GET", "POST"])
def second_factor_view():
    """Optional enrolment for roles that do not require a second factor (those enrol at sign-in)."""
    if second_factor.enrolled(current_user):
        return redirect(url_for("account.index"))
    secret = session.get("enrol_secret") or second_factor.new_secret()
    session["enrol_secret"] = secret
    form = EnrolForm()
    if form.validate_on_submit():
        codes = signin.enrol_second_factor(current_user, secret, form.code.data)
        if codes is not None:
            session.pop("enrol_secret", None)
            return render_template("auth/recovery_codes.html", codes=codes, next_url=url_for("account.index"))
        flash(_("The code is wrong or was already used."), "error")
    return render_template("auth/enrol.html", form=form, secret=secret, in_account=True,
                           qr=Markup(second_factor.provisioning_svg(current_user.email, secret)))


@bp.route("/second-factor/remove", methods=["POST"])
def remove_second_factor():
    form = ConfirmPasswordForm()
    if form.validate_on_submit():
        try:
            signin.remove_own_second_factor(current_user, form.password.data)
        except StaffError as error:
            flash(str(error), "error")
        else:
            flash(_("Second factor removed."), "success")
    return redirect(url_for("account.index"))


@bp.route("/recovery-codes", methods=["POST"])
def recovery_codes():
    form = ConfirmPasswordForm()
    if form.validate_on_submit() and second_factor.enrolled(current_user):
        if not signin.passwords.verify(current_user.password_hash, form.password.data):
            flash(_("The current password is wrong."), "error")
        else:
            codes = signin.new_recovery_codes(current_user)
            return render_template("auth/recovery_codes.html", codes=codes, next_url=url_for("account.index"))
    return redirect(url_for("account.index"))


def gate_forced_change():
    """Until a reset user has chosen a password, every page leads to the password form."""
    if request.endpoint in ("account.password", "auth.logout", "static", "admin.static"):
        return None  # checked first: a style sheet or script needs no look-up of the session and its user
    if getattr(current_user, "is_authenticated", False) and current_user.must_change_password:
        return redirect(url_for("account.password"))
    return None
