"""English and Russian: the portal's words, and the services' known errors in the user's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from services.portal.messages import help as help_messages
from services.portal.messages import home as home_messages
from services.portal.messages import legal as legal_messages
from services.portal.messages import lists as lists_messages
from services.portal.messages import notifications as notifications_messages
from services.portal.messages import operator as operator_messages
from services.portal.messages import operator_codes as operator_codes_messages
from services.portal.messages import operator_forms as operator_forms_messages
from services.portal.messages import operator_releases as operator_releases_messages
from services.portal.messages import partner as partner_messages
from services.portal.messages import partners_directory as partners_directory_messages
from services.portal.messages import profile as profile_messages
from services.portal.messages import releases as releases_messages
from services.portal.messages import software as software_messages
from services.portal.messages import support as support_messages
from services.portal.messages import users as users_messages

if TYPE_CHECKING:
    from services.portal.clients.transport import ServiceError

LANGUAGES = ("en", "ru")  # the portal's languages; the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}

EN: dict[str, str] = {
    "site": "ITS Portal",
    "skip": "Skip to content",
    "nav.main": "Main",
    "nav.language": "Language",
    "nav.home": "Home",
    "nav.profile": "Profile",
    "nav.subscriber": "Subscriber",
    "nav.login": "Log in",
    "nav.signup": "Sign up",
    "nav.logout": "Log out",
    "home.title": "Welcome",
    "home.anonymous": "Register your software, follow your ITS contracts and download updates.",
    "home.greeting": "Hello, {login}",
    "home.acting_for": "You are acting for subscriber {code}.",
    "home.next": "What you can do here",
    "home.profile": "Your account: name, login, e-mail address",
    "home.subscriber": "Your subscriber: name, code, the subscribers you belong to",
    "login.title": "Log in",
    "login.login": "Login",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.forgot": "Forgotten your password?",
    "login.no_account": "No account yet?",
    "signup.title": "Sign up",
    "signup.login": "Login",
    "signup.login_hint": "Letters, digits and . _ @ -; 2 to 64 characters.",
    "signup.password": "Password",
    "signup.password_hint": "At least 8 characters; not a common password, not your login or e-mail.",
    "signup.email": "E-mail address",
    "signup.full_name": "Full name (optional)",
    "signup.submit": "Create the account",
    "signup.done_title": "Check your e-mail",
    "signup.done": "The account {login} is created. We have sent a link to {email}: follow it to verify the address.",
    "verify.title": "E-mail verification",
    "verify.done": "Thank you. The address {email} is verified.",
    "verify.invalid": "This verification link is unknown, already used or expired. Log in and ask for a new one.",
    "forgot.title": "Forgotten password",
    "forgot.intro": "Enter the e-mail address of your account; we will send you a link to choose a new password.",
    "forgot.email": "E-mail address",
    "forgot.submit": "Send the link",
    "forgot.sent": "If an account uses this address, a link to reset its password has been sent to it.",
    "reset.title": "Choose a new password",
    "reset.password": "New password",
    "reset.submit": "Set the password",
    "reset.done": "Your password has been changed. You can log in with it now.",
    "reset.invalid": "This reset link is unknown, already used or expired. Ask for a new one.",
    "profile.title": "Profile",
    "profile.full_name": "Full name",
    "profile.login": "Login",
    "profile.email": "E-mail address",
    "profile.verified": "verified",
    "profile.not_verified": "not verified",
    "profile.resend": "Send the verification e-mail again",
    "profile.resent": "A verification e-mail has been sent to {email}.",
    "profile.password": "Change the password",
    "profile.current_password": "Current password",
    "profile.new_password": "New password",
    "profile.password_submit": "Change the password",
    "profile.password_changed": "Your password has been changed; your other sessions are signed out.",
    "error.current_password.wrong_password": "The current password is wrong.",
    "subscriber.title": "Subscriber",
    "subscriber.name": "Name",
    "subscriber.code": "Code",
    "subscriber.role": "Your role",
    "subscriber.owner": "Owner",
    "subscriber.role.owner": "owner",
    "subscriber.role.user": "user",
    "subscriber.rename": "Rename the subscriber",
    "subscriber.new_name": "New name",
    "subscriber.rename_submit": "Rename",
    "subscriber.renamed": "The subscriber is renamed.",
    "subscriber.memberships": "Subscribers you belong to",
    "subscriber.current": "current",
    "subscriber.switch": "Switch to another subscriber",
    "subscriber.switch_to": "Subscriber",
    "subscriber.switch_submit": "Switch",
    "subscriber.switched": "You are now acting for subscriber {code}.",
    "error.title": "Something went wrong",
    "error.400.title": "The form could not be read",
    "error.400": "What the browser sent is not a form this page can read. Go back, reload the page and try again.",
    "error.403.title": "Not allowed",
    "error.csrf": "The form has expired or did not come from this site. Go back, reload the page and try again.",
    "kept.signed_out": "You were signed out; nothing was saved yet — check and send again.",
    "kept.cabinet": "The cabinet asked for your password again; nothing was saved yet — check and send again.",
    "error.404.title": "Page not found",
    "error.404": "There is no page at this address.",
    "error.405.title": "Not allowed",
    "error.405": "This page cannot be used this way.",
    "error.500": "The portal could not show this page. The problem has been logged.",
    "error.503.title": "Temporarily unavailable",
    "error.503": "A service the portal needs is not answering just now. Please try again in a few minutes.",
    "error.back_home": "Back to the home page",
    "error.required": "Fill this in.",
    "error.missing": "Fill this in.",
    "error.string_pattern_mismatch": "Use letters, digits and . _ @ - only, 2 to 64 characters, "
    "starting with a letter or digit.",
    "error.string_too_long": "This is too long.",
    "error.string_too_short": "Fill this in.",
    "error.value_error": "This is not a valid value.",
    "error.email.value_error": "This is not a valid e-mail address.",
    "error.login.conflict": "This login is taken.",
    "error.email.conflict": "An account with this e-mail address already exists.",
    "error.password.too_short": "Use at least 8 characters.",
    "error.password.too_long": "Use at most 128 characters.",
    "error.password.common": "This password is among the most common ones; choose another.",
    "error.password.personal": "The password must not be your login or e-mail address.",
    "error.password.repetitive": "The password repeats too few different characters.",
    "error.invalid_grant": "The login or password is wrong.",
    "error.not_member": "Your account is not a member of this subscriber.",
    "error.too-many-requests": "Too many attempts. Please wait a while and try again.",
    "error.owner-only": "Only the subscriber's owner can do this.",
    "error.membership-ended": "You are no longer a user of this subscriber.",
    "error.email-verified": "The e-mail address is already verified.",
    "invitation.title": "Invitation",
    "invitation.intro": "{organisation} invites {name} to use its account on the portal.",
    "invitation.valid_until": "The invitation is valid until {date}.",
    "invitation.invalid": "This invitation link is unknown, expired, replaced by a newer one or already used.",
    "invitation.accept_as": "Accept as {login}",
    "invitation.have_account": "Already have an account?",
    "invitation.log_in_to_accept": "Log in to accept",
    "invitation.register": "Or register a new account",
    "invitation.accept_terms": "I accept the user agreement",
    "invitation.register_submit": "Register and accept",
    "invitation.accepted": "Invitation accepted",
    "invitation.its_access": "Access to the ITS information system",
    "invitation.partner_joined": "You are on the staff of {name} now.",
    "error.accept_terms.terms": "Accept the user agreement to register.",
    "error.invitation-for-another-address": "This invitation was sent to another e-mail address: "
    "log in with the account that uses it.",
    "error.conflict": "You are a user of this subscriber already.",
    "error.refused": "The request could not be carried out. Please try again later.",
    "error.refused.403": "You are not allowed to do this.",
    "error.refused.404": "What this page asks for does not exist or is no longer available.",
    "error.refused.409": "This cannot be done in the current state. Reload the page and try again.",
    "error.refused.422": "Some of the values are not valid. Check the form and try again.",
    "error.password.invalid": "Choose another password.",
    "yes": "yes",
    "no": "no",
}

RU: dict[str, str] = {
    "site": "Портал ИТС",
    "skip": "К содержанию",
    "nav.main": "Основное меню",
    "nav.language": "Язык",
    "nav.home": "Главная",
    "nav.profile": "Профиль",
    "nav.subscriber": "Абонент",
    "nav.login": "Войти",
    "nav.signup": "Регистрация",
    "nav.logout": "Выйти",
    "home.title": "Добро пожаловать",
    "home.anonymous": "Регистрируйте программные продукты, следите за договорами ИТС и скачивайте обновления.",
    "home.greeting": "Здравствуйте, {login}",
    "home.acting_for": "Вы работаете от имени абонента {code}.",
    "home.next": "Что можно сделать",
    "home.profile": "Ваша учётная запись: имя, логин, адрес электронной почты",
    "home.subscriber": "Ваш абонент: название, код, абоненты, к которым вы относитесь",
    "login.title": "Вход",
    "login.login": "Логин",
    "login.password": "Пароль",
    "login.submit": "Войти",
    "login.forgot": "Забыли пароль?",
    "login.no_account": "Ещё нет учётной записи?",
    "signup.title": "Регистрация",
    "signup.login": "Логин",
    "signup.login_hint": "Буквы, цифры и . _ @ -; от 2 до 64 символов.",
    "signup.password": "Пароль",
    "signup.password_hint": "Не менее 8 символов; не распространённый пароль, не логин и не адрес почты.",
    "signup.email": "Адрес электронной почты",
    "signup.full_name": "Полное имя (необязательно)",
    "signup.submit": "Создать учётную запись",
    "signup.done_title": "Проверьте почту",
    "signup.done": "Учётная запись {login} создана. Мы отправили ссылку на {email}: перейдите по ней, "
    "чтобы подтвердить адрес.",
    "verify.title": "Подтверждение адреса",
    "verify.done": "Спасибо. Адрес {email} подтверждён.",
    "verify.invalid": "Ссылка неизвестна, уже использована или устарела. Войдите и запросите новую.",
    "forgot.title": "Восстановление пароля",
    "forgot.intro": "Укажите адрес электронной почты учётной записи; мы пришлём ссылку для выбора нового пароля.",
    "forgot.email": "Адрес электронной почты",
    "forgot.submit": "Отправить ссылку",
    "forgot.sent": "Если этот адрес принадлежит учётной записи, на него отправлена ссылка для смены пароля.",
    "reset.title": "Новый пароль",
    "reset.password": "Новый пароль",
    "reset.submit": "Сохранить пароль",
    "reset.done": "Пароль изменён. Теперь можно войти с ним.",
    "reset.invalid": "Ссылка неизвестна, уже использована или устарела. Запросите новую.",
    "profile.title": "Профиль",
    "profile.full_name": "Полное имя",
    "profile.login": "Логин",
    "profile.email": "Адрес электронной почты",
    "profile.verified": "подтверждён",
    "profile.not_verified": "не подтверждён",
    "profile.resend": "Отправить письмо для подтверждения ещё раз",
    "profile.resent": "Письмо для подтверждения отправлено на {email}.",
    "profile.password": "Сменить пароль",
    "profile.current_password": "Текущий пароль",
    "profile.new_password": "Новый пароль",
    "profile.password_submit": "Сменить пароль",
    "profile.password_changed": "Пароль изменён; остальные сеансы завершены.",
    "error.current_password.wrong_password": "Текущий пароль неверен.",
    "subscriber.title": "Абонент",
    "subscriber.name": "Название",
    "subscriber.code": "Код",
    "subscriber.role": "Ваша роль",
    "subscriber.owner": "Владелец",
    "subscriber.role.owner": "владелец",
    "subscriber.role.user": "пользователь",
    "subscriber.rename": "Переименовать абонента",
    "subscriber.new_name": "Новое название",
    "subscriber.rename_submit": "Переименовать",
    "subscriber.renamed": "Абонент переименован.",
    "subscriber.memberships": "Абоненты, к которым вы относитесь",
    "subscriber.current": "текущий",
    "subscriber.switch": "Перейти к другому абоненту",
    "subscriber.switch_to": "Абонент",
    "subscriber.switch_submit": "Перейти",
    "subscriber.switched": "Теперь вы работаете от имени абонента {code}.",
    "error.title": "Что-то пошло не так",
    "error.400.title": "Форму не удалось прочитать",
    "error.400": "Эту форму не удалось прочитать. Вернитесь, обновите страницу и попробуйте ещё раз.",
    "error.403.title": "Нет доступа",
    "error.csrf": "Форма устарела или отправлена не с этого сайта. Вернитесь, обновите страницу и попробуйте ещё раз.",
    "kept.signed_out": "Вы вышли из системы; ничего ещё не сохранено — проверьте и отправьте снова.",
    "kept.cabinet": "Кабинет снова запросил пароль; ничего ещё не сохранено — проверьте и отправьте снова.",
    "error.404.title": "Страница не найдена",
    "error.404": "По этому адресу страницы нет.",
    "error.405.title": "Нет доступа",
    "error.405": "Этой страницей нельзя воспользоваться так.",
    "error.500": "Портал не смог показать эту страницу. Ошибка записана в журнал.",
    "error.503.title": "Временно недоступно",
    "error.503": "Служба, нужная порталу, сейчас не отвечает. Попробуйте ещё раз через несколько минут.",
    "error.back_home": "На главную страницу",
    "error.required": "Заполните это поле.",
    "error.missing": "Заполните это поле.",
    "error.string_pattern_mismatch": "Только буквы, цифры и . _ @ -, от 2 до 64 символов, в начале буква или цифра.",
    "error.string_too_long": "Слишком длинное значение.",
    "error.string_too_short": "Заполните это поле.",
    "error.value_error": "Недопустимое значение.",
    "error.email.value_error": "Это не адрес электронной почты.",
    "error.login.conflict": "Этот логин уже занят.",
    "error.email.conflict": "Учётная запись с этим адресом уже существует.",
    "error.password.too_short": "Не менее 8 символов.",
    "error.password.too_long": "Не более 128 символов.",
    "error.password.common": "Это один из самых распространённых паролей; выберите другой.",
    "error.password.personal": "Пароль не должен совпадать с логином или адресом почты.",
    "error.password.repetitive": "В пароле слишком мало разных символов.",
    "error.invalid_grant": "Неверный логин или пароль.",
    "error.not_member": "Ваша учётная запись не относится к этому абоненту.",
    "error.too-many-requests": "Слишком много попыток. Подождите и попробуйте снова.",
    "error.owner-only": "Это может только владелец абонента.",
    "error.membership-ended": "Вы больше не пользователь этого абонента.",
    "error.email-verified": "Адрес уже подтверждён.",
    "invitation.title": "Приглашение",
    "invitation.intro": "{organisation} приглашает {name} на портал как пользователя абонента.",
    "invitation.valid_until": "Приглашение действительно до {date}.",
    "invitation.invalid": "Ссылка приглашения неизвестна, устарела, заменена новой или уже использована.",
    "invitation.accept_as": "Принять как {login}",
    "invitation.have_account": "Уже есть учётная запись?",
    "invitation.log_in_to_accept": "Войдите, чтобы принять",
    "invitation.register": "Или зарегистрируйте новую учётную запись",
    "invitation.accept_terms": "Я принимаю пользовательское соглашение",
    "invitation.register_submit": "Зарегистрироваться и принять",
    "invitation.accepted": "Приглашение принято",
    "invitation.its_access": "Доступ к информационной системе ИТС",
    "invitation.partner_joined": "Теперь вы сотрудник {name}.",
    "error.accept_terms.terms": "Примите пользовательское соглашение, чтобы зарегистрироваться.",
    "error.invitation-for-another-address": "Приглашение отправлено на другой адрес: "
    "войдите с учётной записью, которой принадлежит этот адрес.",
    "error.conflict": "Вы уже пользователь этого абонента.",
    "error.refused": "Запрос не удалось выполнить. Попробуйте ещё раз позже.",
    "error.refused.403": "У вас нет прав на это действие.",  # noqa: RUF001
    "error.refused.404": "То, что запрашивает страница, не существует или больше не доступно.",
    "error.refused.409": "Сейчас это сделать нельзя. Обновите страницу и попробуйте ещё раз.",
    "error.refused.422": "Некоторые значения недопустимы. Проверьте форму и попробуйте ещё раз.",
    "error.password.invalid": "Выберите другой пароль.",
    "yes": "да",
    "no": "нет",
}

CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "ru": RU}

# identity's password-policy messages (services.identity.domain.check_password), by their beginning.
# Each area's words live beside its pages (services/portal/messages/), merged here once.
for _area in (
    software_messages,
    releases_messages,
    users_messages,
    partner_messages,
    operator_messages,
    operator_releases_messages,
    operator_forms_messages,
    operator_codes_messages,
    help_messages,
    legal_messages,
    home_messages,
    notifications_messages,
    lists_messages,
    partners_directory_messages,
    profile_messages,
    support_messages,
):
    EN.update(_area.EN)
    RU.update(_area.RU)

_PASSWORD_MESSAGES = {
    "use at least": "error.password.too_short",
    "use at most": "error.password.too_long",
    "this password is among": "error.password.common",
    "the password must not be": "error.password.personal",
    "the password repeats": "error.password.repetitive",
}


def translate(language: str, key: str, **values: object) -> str:
    catalogue = CATALOGUES.get(language, EN)
    text = catalogue.get(key) or EN.get(key) or key
    return text.format(**values) if values else text


def known(language: str, key: str) -> str | None:
    return translate(language, key) if key in EN else None


def language_or_default(value: str | None) -> str:
    """`value` if it is one of the portal's languages, otherwise the default."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def best_language(accept_language: str) -> str:
    """The first of our languages in an Accept-Language header (weights in their usual descending order)."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def form_errors(language: str, error: ServiceError, fields: Mapping[str, str]) -> dict[str, str]:
    """A service's error as {form field: message}; `fields` maps the service's field names to the form's.

    Known errors are said in the user's language, others by their kind or status (never the service's own
    English words). What concerns no
    field of the form goes under "_form".
    """
    result: dict[str, str] = {}
    for item in error.field_errors:
        service_field = item.field.split(".")[-1]
        form_field = fields.get(service_field, "_form")
        message = _field_message(language, service_field, item.type, item.message)
        result.setdefault(form_field, message)
    if not result:
        result["_form"] = problem_message(language, error)
    return result


def refusal_message(language: str, prefix: str, error: ServiceError) -> str:
    """A refusal in a page's own words (`<prefix>.<slug>`, e.g. `users.error.owner-only`), or as any page says it."""
    return known(language, f"{prefix}.{error.slug}") or problem_message(language, error)


def problem_message(language: str, error: ServiceError) -> str:
    """A service's refusal as a sentence in the user's language: its own words where the portal knows the
    problem, otherwise what its status means. Never the service's `detail` (English, for developers)."""
    if error.status == 429:  # identity's throttled logins say `invalid_grant` too: the status tells
        return translate(language, "error.too-many-requests")
    return known(language, f"error.{error.slug}") or status_message(language, error.status)


def status_message(language: str, status: int) -> str:
    """What a refusal with this HTTP status means to the user, in their language."""
    if status == 410:
        status = 404
    elif status == 400:
        status = 422
    return known(language, f"error.refused.{status}") or translate(language, "error.refused")


def _field_message(language: str, field: str, kind: str, message: str) -> str:
    if kind == "password_policy":
        for start, key in _PASSWORD_MESSAGES.items():
            if message.startswith(start):
                return translate(language, key)
        return translate(language, "error.password.invalid")
    return (
        known(language, f"error.{field}.{kind}")
        or known(language, f"error.{kind}")
        or translate(language, "error.value_error")
    )
