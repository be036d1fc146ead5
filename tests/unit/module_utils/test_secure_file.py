"""Private files and folders: 0600 files, 0700 folders, no links, and tenants writing into one folder at once."""

from __future__ import annotations

import json
import os
import threading

import pytest

from ansible_collections.m365ops.remediation.plugins.module_utils import secure_file
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error


def test_many_writers_make_the_same_folder_at_once(tmp_path):
    folder = str(tmp_path / 'reports' / 'run')
    start = threading.Barrier(16)
    made, errors = [], []

    def writer(i):
        start.wait()
        try:
            made.append(secure_file.make_private_folder(folder))
            secure_file.write_report(os.path.join(folder, f'tenant{i}.json'), {'tenant': i})
        except Exception as error:  # pylint: disable=broad-exception-caught
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert made.count(True) <= 1 and len(made) == 16
    assert oct(os.stat(folder).st_mode & 0o777) == '0o700'
    assert sorted(os.listdir(folder)) == sorted(f'tenant{i}.json' for i in range(16))
    for name in os.listdir(folder):
        assert oct(os.stat(os.path.join(folder, name)).st_mode & 0o777) == '0o600'


def test_a_report_is_json_or_text_as_given(tmp_path):
    secure_file.write_report(str(tmp_path / 'r' / 'a.json'), {'b': 1})
    secure_file.write_report(str(tmp_path / 'r' / 'a.md'), '# text\n')
    assert json.loads((tmp_path / 'r' / 'a.json').read_text()) == {'b': 1}
    assert (tmp_path / 'r' / 'a.md').read_text() == '# text\n'


def test_a_link_is_refused_as_folder_and_as_file(tmp_path):
    (tmp_path / 'elsewhere').mkdir()
    os.symlink(tmp_path / 'elsewhere', tmp_path / 'link')
    with pytest.raises(M365Error, match='symbolic link'):
        secure_file.make_private_folder(str(tmp_path / 'link'))
    os.symlink(tmp_path / 'elsewhere' / 'target.json', tmp_path / 'file.json')
    with pytest.raises(M365Error):
        secure_file.write_report(str(tmp_path / 'file.json'), {'a': 1})
    assert not (tmp_path / 'elsewhere' / 'target.json').exists()


def test_appended_lines_of_many_writers_never_mix(tmp_path):
    index = str(tmp_path / 'reports' / 'index.jsonl')
    processes = []
    for i in range(8):
        pid = os.fork()
        if pid == 0:  # a tenant's worker process appending its lines
            try:
                for j in range(25):
                    secure_file.write_report(index, json.dumps({'tenant': i, 'n': j, 'pad': 'x' * 5000}) + '\n', append=True)
            finally:
                os._exit(0)  # pylint: disable=protected-access
        processes.append(pid)
    for pid in processes:
        os.waitpid(pid, 0)
    lines = [json.loads(line) for line in open(index, encoding='utf-8').read().splitlines()]
    assert sorted((line['tenant'], line['n']) for line in lines) == [(i, j) for i in range(8) for j in range(25)]
    assert os.stat(index).st_mode & 0o777 == 0o600


def test_append_never_follows_a_link(tmp_path):
    target = tmp_path / 'elsewhere'
    target.write_text('')
    (tmp_path / 'index.jsonl').symlink_to(target)
    with pytest.raises(M365Error, match='symbolic link'):
        secure_file.write_report(str(tmp_path / 'index.jsonl'), 'line\n', append=True)
    assert target.read_text() == ''


def test_every_missing_folder_is_made_private(tmp_path):
    os.umask(0o022)
    run_folder = tmp_path / 'reports' / 'run' / 'deeper'
    assert secure_file.make_private_folder(str(run_folder)) is True
    for folder in (tmp_path / 'reports', tmp_path / 'reports' / 'run', run_folder):
        assert oct(folder.stat().st_mode & 0o777) == '0o700', folder
    assert secure_file.make_private_folder(str(run_folder)) is False
