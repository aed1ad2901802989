"""The public forms' memory of the tokens that already stored something."""

from server.web.public_forms import FORM_TOKEN_MAX_AGE_S, SpentTokens


def test_a_token_is_spent_once_for_as_long_as_its_cookie_lives():
    now = [1000.0]
    spent = SpentTokens(clock=lambda: now[0])
    assert spent.spend("a") is True
    assert spent.spend("a") is False
    assert spent.spend("b") is True
    now[0] += FORM_TOKEN_MAX_AGE_S + 1  # the cookie is gone: the token cannot come back anyway
    assert spent.spend("a") is True


def test_old_tokens_are_forgotten_when_many_are_held():
    now = [0.0]
    spent = SpentTokens(clock=lambda: now[0], max_age_s=10)
    for i in range(1001):
        spent.spend(f"old-{i}")
    now[0] = 11.0
    spent.spend("new")
    assert len(spent._spent) == 1
