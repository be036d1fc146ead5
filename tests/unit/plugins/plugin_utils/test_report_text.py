"""The readable summary and the end-of-run lines."""

from __future__ import annotations

from ansible_collections.m365ops.remediation.plugins.plugin_utils import report_text, steps, unblock

from test_unblock import entry, user

WORDS = {language: report_text.language_words(language) for language in steps.LANGUAGES}


def reports():
    plan = unblock.plan([user('rob@contoso.com'), user('eve@contoso.com')], [entry('rob@contoso.com'), entry('eve@contoso.com')])
    plan = unblock.fold(plan, {'password': {'results': [{'id': 'id-rob', 'changed': True}, {'id': 'id-eve', 'failed': True, 'msg': 'a|b <x>'}]},
                               'sessions': {'results': [{'id': 'id-rob', 'changed': True}]},
                               'unblock': {'results': [{'address': 'rob@contoso.com', 'changed': True, 'sending_expected_by': 'S1',
                                                        'sending_expected_at_latest': 'S24'}]}})
    return [unblock.tenant_report(plan, 'contoso', 'tid', False)]


def test_markdown_in_every_language():
    for language, words in WORDS.items():
        text = report_text.render(reports(), unblock.run_summary(reports()), words, 'markdown', language, 'NOW')
        assert text.startswith('# ' + words['title'])
        assert 'rob@contoso.com' in text and 'S1' in text and 'a\\|b <x>' in text
        assert words['outcomes']['failed'] in text


def test_html_escapes():
    text = report_text.render(reports(), unblock.run_summary(reports()), WORDS['nb'], 'html', 'nb', 'NOW')
    assert '<html lang="nb">' in text and 'a|b &lt;x&gt;' in text and 'class="failed"' in text


def test_summary_lines():
    lines = report_text.summary_lines(unblock.run_summary(reports()))
    assert lines == ['2 user(s) in 1 tenant(s): 1 password(s) reset, 1 session(s) revoked, 1 unblocked, 0 already remediated, '
                     '0 not on the list, 0 skipped, 1 failed.', 'Sending expected back by S1 (at the latest S24).']
