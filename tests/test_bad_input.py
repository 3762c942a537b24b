"""Bad input as a new user meets it -- messy folders and CSVs, impossible options, an interruption -- one test per case.

Each answer is either a load that works (with a one-line warning naming what was skipped) or one
`medprompt: error: ...` line naming the file or value, exit status 2, found before a backbone is loaded."""
import signal, subprocess, sys, time, warnings
from pathlib import Path

import numpy as np, pandas as pd
import pytest
from PIL import Image

import medprompt.cli, medprompt.experiment, medprompt.grid
from medprompt.backbones import BackboneUnavailableError
from medprompt.cli import main
from medprompt.data import ImageLoadError, few_shot, fewshot_dataset, from_csv, from_folder, load_dataset

def _images(folder:Path, classes:dict, ext:str='.png')->Path:
    "Write `n` small, distinct images into `folder/<class>/` for each `class: n`."
    rng = np.random.default_rng(0)
    for c, n in classes.items():
        (folder/c).mkdir(parents=True, exist_ok=True)
        for i in range(n): Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder/c/f'{c} {i}{ext}')
    return folder

def _truncate(p:Path):
    b = p.read_bytes(); p.write_bytes(b[:len(b)//2])

def _csv(folder:Path, name:str='labels.csv')->Path:
    "A CSV path,label of every image under `folder`, paths relative to it."
    rows = [(p.relative_to(folder).as_posix(), p.parent.name) for p in sorted(folder.rglob('*.*')) if p.suffix != '.csv']
    pd.DataFrame(rows, columns=['path', 'label']).to_csv(folder/name, index=False)
    return folder/name

def _run(capsys, *argv)->tuple:
    "`medprompt run ...` in this process: (exit status, stdout, stderr)."
    rc = main(['run', '--methods', 'zeroshot', *argv])
    out, err = capsys.readouterr()
    return rc, out, err

def _one_error(rc:int, err:str, *contains):
    "Exit status 2 and one error line (after any one-line warnings) that says `contains`."
    lines = err.strip().splitlines()
    errors = [l for l in lines if l.startswith('medprompt: error: ')]
    assert rc == 2 and len(errors) == 1 and lines[-1] == errors[0] and all(l.startswith('medprompt: ') for l in lines), err
    assert 'Traceback' not in err and all(c in errors[0] for c in contains), err

@pytest.fixture
def no_work(monkeypatch):
    "Fail if a backbone is loaded: bad input must be found before any expensive work."
    def fail(*a, **k): raise AssertionError('a backbone was loaded before the bad input was found')
    monkeypatch.setattr(medprompt.experiment, 'load_backbone', fail)
    monkeypatch.setattr(medprompt.grid, 'load_backbone', fail)   # the grid's shared encoding, before the first run

def _warns(fn)->tuple:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        return fn(), [str(x.message) for x in w]

# --- unreadable images ---------------------------------------------------------------------------------------------

def test_truncated_jpeg_in_folder_is_skipped_with_a_warning(tmp_path, capsys):
    data = _images(tmp_path/'data', {'benign': 6, 'malignant': 6}, ext='.jpg')
    _truncate(data/'benign'/'benign 3.jpg')
    rc, out, err = _run(capsys, '--dataset', str(data), '--shots', '0', '--out', str(tmp_path/'o'))
    assert rc == 0, err
    assert err.count('medprompt: warning: Skipped 1 unreadable images') == 1 and 'benign 3.jpg' in err and 'truncated' in err, err
    assert (tmp_path/'o'/'results.csv').is_file()

def test_fewshot_draw_passes_over_unreadable_images(tmp_path):
    "A class still gets its K shots when images early in its seeded ranking are unreadable; the test split drops them."
    data = _images(tmp_path/'data', {'a': 8, 'b': 8})
    ds = from_folder(data)
    for p,_ in ds.train[:2]: _truncate(p)          # two training images of class a
    _truncate(ds.test[0][0])
    fs, msgs = _warns(lambda: fewshot_dataset(ds, 2, seed=1))
    assert fs.counts('train') == [2, 2] and len(fs.test) == len(ds.test) - 1
    assert not {p for p,_ in fs.train + fs.test} & {ds.train[0][0], ds.train[1][0], ds.test[0][0]}
    assert any(ds.test[0][0].name in m for m in msgs)

def test_zero_byte_and_fake_images_are_unreadable(tmp_path):
    data = _images(tmp_path/'data', {'a': 3, 'b': 3})
    (data/'a'/'a 0.png').write_bytes(b''); (data/'a'/'a 1.png').write_text('<html>404 Not Found</html>')
    items = [(p, 0) for p in sorted((data/'a').iterdir())]
    kept, msgs = _warns(lambda: few_shot(items, 3, seed=1, strict=False))
    assert kept == [(data/'a'/'a 2.png', 0)] and 'a 0.png' in msgs[0] and 'a 1.png' in msgs[0]

def test_class_folder_of_only_unreadable_images(tmp_path, capsys, no_work):
    data = _images(tmp_path/'data', {'a': 4, 'b': 4})
    for p in (data/'b').iterdir(): _truncate(p)
    rc, _, err = _run(capsys, '--dataset', str(data), '--shots', '1', '--out', str(tmp_path/'o'))
    _one_error(rc, err, "class 'b' (label 1) has only 0 images that can be read")

# --- classes -------------------------------------------------------------------------------------------------------

def test_class_with_a_single_image(tmp_path, capsys, no_work):
    data = _images(tmp_path/'data', {'a': 5, 'b': 1})
    rc, _, err = _run(capsys, '--dataset', str(data), '--shots', '1', '--out', str(tmp_path/'o'))
    _one_error(rc, err, "Classes 'b' (1 image in all)", 'no training image')

def test_single_class_dataset(tmp_path, capsys, no_work):
    data = _images(tmp_path/'data', {'a': 5})
    rc, _, err = _run(capsys, '--dataset', str(data), '--out', str(tmp_path/'o'))
    _one_error(rc, err, "holds a single class ['a']")

def test_labels_differing_only_in_case_are_one_class(tmp_path):
    data = _images(tmp_path/'data', {'benign': 4, 'malignant': 4})
    csv = _csv(data)
    df = pd.read_csv(csv); df.loc[:1, 'label'] = 'Benign'; df.to_csv(csv, index=False)
    ds, msgs = _warns(lambda: from_csv(csv))
    assert ds.classnames == ['Benign', 'malignant'] and sum(ds.counts(s)[0] for s in ('train', 'val', 'test')) == 4
    assert any("'Benign' / 'benign'" in m for m in msgs)

# --- folders -------------------------------------------------------------------------------------------------------

def test_non_image_files_are_ignored_with_one_warning(tmp_path):
    data = _images(tmp_path/'data', {'a': 4, 'b': 4})
    (data/'a'/'notes.txt').write_text('x'); (data/'b'/'scan.dcm').write_bytes(b'DICM'); (data/'b'/'README').write_text('x')
    ds, msgs = _warns(lambda: from_folder(data))
    assert len(ds.train + ds.val + ds.test) == 8
    assert len(msgs) == 1 and 'Ignored 3 files' in msgs[0] and '.dcm x1' in msgs[0] and '(none) x1' in msgs[0]

def test_hidden_files_and_archive_leftovers_are_skipped(tmp_path):
    data = _images(tmp_path/'data', {'a': 4, 'b': 4})
    (data/'.DS_Store').write_bytes(b'\0'); (data/'a'/'._a 0.png').write_bytes(b'\0'); (data/'a'/'Thumbs.db').write_bytes(b'\0')
    (data/'.cache'/'x').mkdir(parents=True); (data/'.cache'/'x'/'y.png').write_bytes(b'\0')
    (data/'__MACOSX'/'a').mkdir(parents=True); (data/'__MACOSX'/'a'/'._a 1.png').write_bytes(b'\0')
    ds, msgs = _warns(lambda: from_folder(data))
    assert ds.classnames == ['a', 'b'] and len(ds.train + ds.val + ds.test) == 8 and not msgs

def test_nested_folders_belong_to_their_class(tmp_path):
    data = _images(tmp_path/'data', {'a': 4, 'b': 4})
    _images(data/'a'/'2023'/'batch 2', {'more': 3})
    ds = from_folder(data)
    assert ds.classnames == ['a', 'b'] and sum(ds.counts(s)[0] for s in ('train', 'val', 'test')) == 7

def test_paths_with_spaces_and_unicode(tmp_path):
    data = _images(tmp_path/'my data (copy)', {'tumeur bénigne': 4, 'tumeur maligne': 4})
    assert from_folder(data).classnames == ['tumeur bénigne', 'tumeur maligne']
    assert from_csv(_csv(data, 'my labels.csv')).classnames == ['tumeur bénigne', 'tumeur maligne']

def test_mixed_case_extensions(tmp_path):
    data = _images(tmp_path/'data', {'a': 2, 'b': 2}, ext='.JPG')
    _images(data, {'a': 2, 'b': 2}, ext='.Png')   # same names, other extensions: 8 files
    assert len(from_folder(data).train + from_folder(data).val + from_folder(data).test) == 8

def test_folder_without_class_folders(tmp_path, capsys, no_work):
    (tmp_path/'flat').mkdir(); Image.new('L', (8, 8)).save(tmp_path/'flat'/'x.png')
    rc, _, err = _run(capsys, '--dataset', str(tmp_path/'flat'), '--out', str(tmp_path/'o'))
    _one_error(rc, err, 'has no class sub-folders')

def test_empty_class_folder(tmp_path, capsys, no_work):
    data = _images(tmp_path/'data', {'a': 4, 'b': 4}); (data/'c').mkdir()
    rc, _, err = _run(capsys, '--dataset', str(data), '--out', str(tmp_path/'o'))
    _one_error(rc, err, 'holds no images', str(data/'c'))

# --- CSVs ----------------------------------------------------------------------------------------------------------

def test_zero_byte_csv(tmp_path, capsys, no_work):
    (tmp_path/'labels.csv').write_bytes(b'')
    rc, _, err = _run(capsys, '--dataset', str(tmp_path/'labels.csv'), '--out', str(tmp_path/'o'))
    _one_error(rc, err, 'labels.csv is empty')

def test_header_only_csv(tmp_path, capsys, no_work):
    (tmp_path/'labels.csv').write_text('path,label\n')
    rc, _, err = _run(capsys, '--dataset', str(tmp_path/'labels.csv'), '--out', str(tmp_path/'o'))
    _one_error(rc, err, 'labels.csv has a header but no rows')

def test_duplicated_csv_rows_are_used_once(tmp_path):
    csv = _csv(_images(tmp_path/'data', {'a': 4, 'b': 4}))
    df = pd.read_csv(csv); pd.concat([df, df.iloc[:3]]).to_csv(csv, index=False)
    ds, msgs = _warns(lambda: from_csv(csv))
    paths = [p for p,_ in ds.train + ds.val + ds.test]
    assert len(paths) == len(set(paths)) == 8 and any('lists 3 rows twice' in m for m in msgs)

def test_one_image_with_two_labels_in_csv(tmp_path, capsys, no_work):
    csv = _csv(_images(tmp_path/'data', {'a': 4, 'b': 4}))
    df = pd.read_csv(csv); pd.concat([df, df.iloc[:1].assign(label='b')]).to_csv(csv, index=False)
    rc, _, err = _run(capsys, '--dataset', str(csv), '--out', str(tmp_path/'o'))
    _one_error(rc, err, 'a 0.png on 2 rows with different labels')

def test_csv_with_bom_and_windows_line_ends(tmp_path):
    data = _images(tmp_path/'data', {'a': 4, 'b': 4})
    text = _csv(data).read_text().replace('\n', '\r\n')
    (data/'excel.csv').write_bytes('\ufeff'.encode() + text.encode())
    assert from_csv(data/'excel.csv').classnames == ['a', 'b']

def test_csv_with_semicolons_and_spaces_around_cells(tmp_path):
    data = _images(tmp_path/'data', {'a': 4, 'b': 4})
    df = pd.read_csv(_csv(data))
    (data/'semi.csv').write_text('path ; label\n' + ''.join(f' {p} ; {l}  \n' for p,l in zip(df['path'], df['label'])))
    ds = from_csv(data/'semi.csv')
    assert ds.classnames == ['a', 'b'] and len(ds.train + ds.val + ds.test) == 8

def test_labels_with_trailing_spaces(tmp_path):
    csv = _csv(_images(tmp_path/'data', {'a': 4, 'b': 4}))
    df = pd.read_csv(csv); df.loc[::2, 'label'] = df.loc[::2, 'label'] + '  '; df.to_csv(csv, index=False)
    assert from_csv(csv).classnames == ['a', 'b']

def test_csv_paths_that_do_not_exist(tmp_path, capsys, no_work):
    csv = _csv(_images(tmp_path/'data', {'a': 4, 'b': 4}))
    df = pd.read_csv(csv); pd.concat([df, pd.DataFrame([('a/gone.png', 'a')], columns=['path', 'label'])]).to_csv(csv, index=False)
    rc, _, err = _run(capsys, '--dataset', str(csv), '--out', str(tmp_path/'o'))
    _one_error(rc, err, '1 of 9 images listed in', 'gone.png')

def test_csv_written_on_windows_with_backslashes(tmp_path):
    data = _images(tmp_path/'data', {'a': 4, 'b': 4})
    df = pd.read_csv(_csv(data)); df['path'] = df['path'].str.replace('/', '\\'); df.to_csv(data/'win.csv', index=False)
    assert len(from_csv(data/'win.csv').train) > 0

def test_csv_with_empty_cells(tmp_path, capsys, no_work):
    csv = _csv(_images(tmp_path/'data', {'a': 4, 'b': 4}))
    df = pd.read_csv(csv); df.loc[2, 'label'] = ''; df.to_csv(csv, index=False)
    rc, _, err = _run(capsys, '--dataset', str(csv), '--out', str(tmp_path/'o'))
    _one_error(rc, err, 'empty path or label (data rows [3])')

def test_file_that_is_not_a_csv(tmp_path, capsys, no_work):
    (tmp_path/'labels.csv').write_bytes(b'PK\x03\x04\xff\xfe\x00\x81 an xlsx renamed')
    rc, _, err = _run(capsys, '--dataset', str(tmp_path/'labels.csv'), '--out', str(tmp_path/'o'))
    _one_error(rc, err, 'labels.csv')

def test_csv_class_only_in_the_test_split(tmp_path, capsys, no_work):
    csv = _csv(_images(tmp_path/'data', {'a': 4, 'b': 4, 'c': 2}))
    df = pd.read_csv(csv); df['split'] = ['test' if l == 'c' or i % 4 == 0 else 'train' for i,l in enumerate(df['label'])]; df.to_csv(csv, index=False)
    rc, _, err = _run(capsys, '--dataset', str(csv), '--out', str(tmp_path/'o'))
    _one_error(rc, err, "Classes 'c' (2 images in all)", 'no training image')

# --- options -------------------------------------------------------------------------------------------------------

def test_negative_shots(tmp_path, capsys, no_work):
    rc, _, err = _run(capsys, '--shots', '-2', '--out', str(tmp_path/'o'))
    _one_error(rc, err, '-2 shots asked for')
    assert not (tmp_path/'o').exists()   # nothing written

def test_too_many_shots_later_in_the_grid_fails_before_the_first_run(tmp_path, capsys, no_work):
    rc, out, err = _run(capsys, '--shots', '1,500', '--out', str(tmp_path/'o'))
    _one_error(rc, err, '500 shots asked for', 'has only 29 images')
    assert '[1/' not in out and not (tmp_path/'o').exists()

def test_shots_not_a_number(tmp_path, capsys, no_work):
    rc, _, err = _run(capsys, '--shots', '4,eight', '--out', str(tmp_path/'o'))
    _one_error(rc, err, "--shots takes comma-separated whole numbers", "'4,eight'")

@pytest.mark.parametrize('argv, msg', [(['--epochs', '-1'], '--epochs must be at least 0'), (['--bs', '0'], '--bs must be at least 1'),
                                       (['--views', '-1'], '--views must be at least 0'), (['--lr', '-0.1'], '--lr must be positive'),
                                       (['--seeds', '-1'], 'Seeds are whole numbers from 0')])
def test_numbers_out_of_range(argv, msg, tmp_path, capsys, no_work):
    rc, _, err = _run(capsys, *argv, '--out', str(tmp_path/'o'))
    _one_error(rc, err, msg)

def test_out_naming_an_existing_file(tmp_path, capsys, no_work):
    (tmp_path/'results.csv').write_text('keep me')
    rc, _, err = _run(capsys, '--out', str(tmp_path/'results.csv'))
    _one_error(rc, err, 'results.csv is a file, not a results folder')
    assert (tmp_path/'results.csv').read_text() == 'keep me'

def test_out_not_writable(tmp_path, capsys, no_work):
    rc, _, err = _run(capsys, '--out', '/sys/medprompt-test-out')   # not creatable, even by root
    _one_error(rc, err, '/sys/medprompt-test-out')

def test_unknown_method_setting(tmp_path, capsys, no_work):
    rc, _, err = main(['run', '--methods', 'coop', '--set', 'nctx=8', '--out', str(tmp_path/'o')]), *capsys.readouterr()
    _one_error(rc, err, "coop has no setting ['nctx']", 'n_ctx')

def test_setting_without_a_value(tmp_path, capsys, no_work):
    rc, _, err = _run(capsys, '--set', 'n_ctx', '--out', str(tmp_path/'o'))
    _one_error(rc, err, '--set takes name=value')

def test_option_and_setting_disagree(tmp_path, capsys, no_work):
    rc, _, err = main(['run', '--methods', 'coop', '--lr', '0.1', '--set', 'lr=0.2', '--out', str(tmp_path/'o')]), *capsys.readouterr()
    _one_error(rc, err, "['lr'] given twice")

def test_device_that_is_not_here(tmp_path, capsys, no_work):
    rc, _, err = _run(capsys, '--device', 'cuda:99', '--out', str(tmp_path/'o'))
    _one_error(rc, err, "Device 'cuda:99' is not available here")
    rc, _, err = _run(capsys, '--device', 'gpu', '--out', str(tmp_path/'o'))
    _one_error(rc, err, "Unknown device 'gpu'")

def test_corrupt_run_record_in_out(tmp_path, capsys, no_work):
    (tmp_path/'o'/'runs').mkdir(parents=True); (tmp_path/'o'/'runs'/'x.json').write_text('{"run_id": ')
    rc, _, err = _run(capsys, '--out', str(tmp_path/'o'))
    _one_error(rc, err, 'x.json is unreadable', 'delete it')

# --- the command's own behaviour -----------------------------------------------------------------------------------

@pytest.mark.parametrize('error', [ImageLoadError('Cannot read image x.png'), FileExistsError('x exists'), PermissionError('x denied'),
                                   ValueError('bad value'), FileNotFoundError('x missing'), KeyError('No LLM descriptions for x'),
                                   BackboneUnavailableError('offline')])
def test_main_catches_every_expected_error(error, monkeypatch, capsys):
    def raise_(**kw): raise error
    monkeypatch.setattr(medprompt.cli, 'run_grid', raise_)
    rc, _, err = _run(capsys)
    _one_error(rc, err, str(error.args[0]))
    assert not err.startswith("medprompt: error: '"), err   # a KeyError's message without repr quotes

def test_a_bug_is_not_dressed_up_as_bad_input(monkeypatch):
    "Anything else (a bug) keeps its traceback."
    def raise_(**kw): raise RuntimeError('a bug')
    monkeypatch.setattr(medprompt.cli, 'run_grid', raise_)
    with pytest.raises(RuntimeError, match='a bug'): main(['run'])

def test_keyboard_interrupt_is_one_line(monkeypatch, capsys):
    def raise_(**kw): raise KeyboardInterrupt
    monkeypatch.setattr(medprompt.cli, 'run_grid', raise_)
    rc, _, err = _run(capsys)
    assert rc == 130 and err.strip() == 'medprompt: interrupted', err

def test_ctrl_c_keeps_every_finished_run(tmp_path):
    "SIGINT in the middle of a grid: one line, exit status 130, the finished runs' records and tables kept, no temporary file left."
    exe = Path(sys.executable).parent/'medprompt'
    # output to files, not pipes: a pipe nobody reads while we wait fills up and blocks the child mid-run
    with open(tmp_path/'out.txt', 'w') as out_f, open(tmp_path/'err.txt', 'w') as err_f:
        p = subprocess.Popen([str(exe), 'run', '--methods', 'coop', '--shots', '1,2,4,8', '--seeds', '1,2,3', '--epochs', '30',
                              '--out', str(tmp_path/'grid')], stdout=out_f, stderr=err_f, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # a test runner may ignore SIGINT
        try:
            deadline = time.time() + 600
            while not list((tmp_path/'grid'/'runs').glob('*.json')) and time.time() < deadline and p.poll() is None: time.sleep(0.2)
            p.send_signal(signal.SIGINT)
            p.wait(timeout=120)
        finally:
            if p.poll() is None: p.kill()
    err = (tmp_path/'err.txt').read_text()
    grid = tmp_path/'grid'
    records = list((grid/'runs').glob('*.json'))
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith('medprompt: interrupted; ') and 'Traceback' not in err, err
    assert 1 <= len(records) < 12 and f'{len(records)} finished runs kept' in err
    assert len(pd.read_csv(grid/'results.csv')) == len(records)
    assert not [f for f in grid.rglob('*') if f.name.endswith('.tmp')]
