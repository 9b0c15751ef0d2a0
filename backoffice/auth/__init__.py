"""Sign-in (password, then second factor), sign-out and the language switch."""
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..models.staff import StaffUser
from ..services import second_factor, signin

bp = Blueprint("auth", __name__)
PENDING_SECONDS = 300


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class CodeForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app (or a recovery code)"),
                       validators=[DataRequired(), Length(max=20)])


def safe_next(target):
    """Only same-site relative paths are followed after login (Flask-Login does not check `next`)."""
    if not target or len(target) > 2000:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None  # CR/LF would split the Location header
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _client_ip():
    return request.remote_addr


def _throttled_response(step, form, template):
    if step.outcome == signin.LOCKED:
        flash(_("Too many failed sign-ins: this sign-in is locked. Ask an administrator to unlock it."), "error")
    else:
        wait = int(max(step.retry_after, 1))
        flash(ngettext("Too many failed sign-ins. Wait %(count)s second and try again.",
                       "Too many failed sign-ins. Wait %(count)s seconds and try again.", wait,
                       count=format_number(wait)), "error")
    response = current_app.make_response((render_template(template, form=form), 429))
    response.headers["Retry-After"] = str(max(step.retry_after, 1) if step.outcome != signin.LOCKED else 3600)
    return response


def _pending_user():
    user_id, started = session.get("pending_user_id"), session.get("pending_at", 0)
    if not user_id or time.time() - started > PENDING_SECONDS:
        return None
    user = db.session.get(StaffUser, user_id)
    return user if user is not None and user.is_active else None


def _finish(user):
    """Both steps passed: a fresh session (new id and CSRF secret), then where the user was going."""
    target = session.get("pending_next")
    language = user.language
    session.clear()
    session["sid"] = signin.start_session(user, request.user_agent.string, _client_ip())
    login_user(user)
    if language:
        session["language"] = language
    if user.must_change_password:
        flash(_("Choose a new password before you continue."), "info")
        return redirect(url_for("account.password"))
    return redirect(safe_next(target) or url_for("admin.index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    if form.validate_on_submit():
        step = signin.check_password(form.email.data, form.password.data, _client_ip())
        if step.outcome in (signin.THROTTLED, signin.LOCKED):
            return _throttled_response(step, form, "auth/login.html")
        if step.outcome == signin.OK:
            user = step.user
            session.clear()
            session.update(pending_user_id=user.id, pending_at=time.time(),
                           pending_next=safe_next(request.args.get("next")))
            if not signin.needs_second_factor(user):
                return _finish(user)
            if second_factor.enrolled(user):
                return redirect(url_for("auth.login_code"))
            session["pending_secret"] = second_factor.new_secret()
            return redirect(url_for("auth.enrol"))
        flash(_("Wrong e-mail or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    user = _pending_user()
    if user is None or not second_factor.enrolled(user):
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        step = signin.check_second_factor(user, form.code.data, _client_ip())
        if step.outcome in (signin.THROTTLED, signin.LOCKED):
            return _throttled_response(step, form, "auth/login_code.html")
        if step.outcome == signin.OK:
            return _finish(user)
        flash(_("The code is wrong or was already used."), "error")
    return render_template("auth/login_code.html", form=form)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol():
    """Users whose role requires a second factor set it up before their first session starts."""
    user = _pending_user()
    secret = session.get("pending_secret")
    if user is None or second_factor.enrolled(user) or not secret:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        codes = signin.enrol_second_factor(user, secret, form.code.data)
        if codes is not None:
            response = _finish(user)
            return render_template("auth/recovery_codes.html", codes=codes, next_url=response.location)
        flash(_("The code is wrong or was already used."), "error")
    return render_template("auth/enrol.html", form=form, secret=secret,
                           qr=Markup(second_factor.provisioning_svg(user.email, secret)))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    signin.sign_out(current_user, session.get("sid"))
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language/<code>", methods=["POST"])
def set_language(code):
    if code in current_app.config["LANGUAGES"]:
        session["language"] = code
    return redirect(safe_next(request.form.get("next")) or url_for("admin.index"))


@bp.route("/")
def root():
    return redirect(url_for("admin.index"))
