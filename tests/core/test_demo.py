"""``make demo`` tells the story it promises."""

from __future__ import annotations

import pytest

from syntha_redis import demo


def test_demo_shows_sharing_within_a_user_and_isolation_between_users(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo.main()
    out = capsys.readouterr().out
    assert "AnalyticsAgent  sees {'deal_acme_q3'" in out
    assert "refused: agent 'SalesAgent' may not post to topic 'hr'" in out
    assert "AnalyticsAgent  of globex sees {}" in out
    assert "globex get('deal_acme_q3') -> None" in out
