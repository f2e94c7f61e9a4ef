"""The ``openai`` predictor against a real OpenAI-compatible server: ``transformers serve`` in a subprocess on 127.0.0.1.

The server runs a tiny random Qwen2 whose greedy answer differs from prompt to prompt, so
an answer equal to the in-process ``transformers`` predictor's shows the prompt was the
training prompt to the token. Faults a real server will not give on demand come from
``FaultProxy`` in front of it. Every loop is bounded.
"""

from __future__ import annotations

import json
from dataclasses import replace
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fault_proxy import FaultProxy
from served import TransformersServe, free_port
from ner_toolkit import Tagger, plugins
from ner_toolkit.cli import cli
from ner_toolkit.engines.endpoint import EndpointError, retry_after
from ner_toolkit.grammars import copy_grammar
from ner_toolkit.interfaces import ModelSpec
from ner_toolkit.labels import CONLL2003_LABELS
from ner_toolkit.run.components import build_formatter, build_predictor
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import RecipeError, load_recipe
from ner_toolkit.spans import Sentence

LABELS = [label.name for label in CONLL2003_LABELS]
TINY_OPTIONS = {"max_tokens": 24, "retries": 2, "backoff": 0.05}


@pytest.fixture(scope="module")
def testb(conll: Path) -> list[Sentence]:
    return plugins.get_reader("conll")().read(conll / "eng.testb")


@pytest.fixture(scope="module")
def tiny_server(varied_qwen2_dir: Path) -> Iterator[TransformersServe]:
    with TransformersServe(varied_qwen2_dir) as server:
        yield server


@pytest.fixture(scope="module")
def tiny_outputs(tiny_server: TransformersServe, varied_qwen2_dir: Path, testb: list[Sentence]) -> dict[str, str]:
    """The tiny model's answers for the first 40 sentences of eng.testb, asked without faults."""
    with predictor(tiny_server.url, str(varied_qwen2_dir), **TINY_OPTIONS) as asking:
        return {testb[i].id: prediction.output for i, prediction in asking.predict(testb[:40])}


def predictor(url: str, model: str, spec: ModelSpec | None = None, **options: object):
    formatter = build_formatter("bracketed", CONLL2003_LABELS)
    return build_predictor("openai", spec, None, formatter, {"base_url": url, "model": model, **options})


def write_recipe(folder: Path, conll: Path, url: str, model: str, test: int = 40, **options: object) -> Path:
    recipe = {
        "name": "served",
        "data": {"dir": str(conll), "test": "eng.testb", "limit": {"test": test}},
        "predictor": {"name": "openai", "options": {"base_url": url, "model": model, **TINY_OPTIONS, **options}},
        "scorers": ["seqeval"],
        "output_dir": str(folder / "run"),
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def predictions(run_dir: Path) -> list[dict]:
    path = run_dir / "predictions" / "test.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def ner_toolkit(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ner_toolkit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lines(run_dir: Path, n: int, process: subprocess.Popen[str], within: float = 120) -> None:
    deadline = time.monotonic() + within
    while len(predictions(run_dir)) < n:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"fewer than {n} predictions within {within} s"
        time.sleep(0.05)


# --- the same greedy outputs as in process -------------------------------------------------


def test_greedy_outputs_equal_the_transformers_predictors(
    tiny_server: TransformersServe, varied_qwen2_dir: Path, testb: list[Sentence]
) -> None:
    sentences = testb[:20]
    spec = ModelSpec(str(varied_qwen2_dir))
    formatter = build_formatter("bracketed", CONLL2003_LABELS)
    local_options = {"decoding": "plain", "max_new_tokens": 24, "batch_size": 1, "progress": False, "entity_scores": False}
    with build_predictor("transformers", spec, None, formatter, local_options) as local:
        expected = {i: p.output for i, p in local.predict(sentences)}
    assert len(set(expected.values())) == len(sentences)  # a different answer to every prompt
    with predictor(tiny_server.url, str(varied_qwen2_dir), spec, api="completions", max_tokens=24, concurrency=4) as asking:
        assert {i: p.output for i, p in asking.predict(sentences)} == expected
    # The chat endpoint: the server lays out the conversation with the model's own template. Its
    # chat handler hands back the message without the whitespace around it and with the special
    # tokens the in-process predictor skips (this random model writes a few).
    from transformers import AutoTokenizer

    special = AutoTokenizer.from_pretrained(str(varied_qwen2_dir)).all_special_tokens
    with predictor(tiny_server.url, str(varied_qwen2_dir), None, api="chat", max_tokens=24, concurrency=4) as asking:
        chat = {i: p.output for i, p in asking.predict(sentences)}
    for token in special:
        chat = {i: output.replace(token, "") for i, output in chat.items()}
    assert chat == {i: output.strip() for i, output in expected.items()}


# --- resuming ----------------------------------------------------------------------------------


def test_a_run_killed_with_sigkill_resumes_with_nothing_lost_or_repeated(
    tmp_path: Path, conll: Path, tiny_server: TransformersServe, varied_qwen2_dir: Path, tiny_outputs: dict[str, str]
) -> None:
    recipe = write_recipe(tmp_path, conll, tiny_server.url, str(varied_qwen2_dir), concurrency=2)
    first = ner_toolkit("run", str(recipe))
    wait_for_lines(tmp_path / "run", 4, first)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    written = len(predictions(tmp_path / "run"))
    assert 4 <= written < 40

    second = ner_toolkit("run", str(recipe))
    _, log = second.communicate(timeout=300)
    assert second.returncode == 0, log
    assert f"{40 - written} of 40 sentences to generate ({written} already in" in log
    records = predictions(tmp_path / "run")
    assert [r["id"] for r in records] == list(dict.fromkeys(r["id"] for r in records))  # none twice
    assert {r["id"]: r["output"] for r in records} == tiny_outputs


def test_a_server_killed_mid_run_and_restarted_is_retried_until_the_run_finishes(
    tmp_path: Path, conll: Path, varied_qwen2_dir: Path, tiny_outputs: dict[str, str]
) -> None:
    server = TransformersServe(varied_qwen2_dir, free_port()).start()
    try:
        recipe = write_recipe(tmp_path, conll, server.url, str(varied_qwen2_dir), concurrency=2,
                              retries=12, backoff=0.5, max_wait=4)
        process = ner_toolkit("run", str(recipe))
        wait_for_lines(tmp_path / "run", 4, process)
        server.kill()
        time.sleep(1)  # requests now fail: nothing listens
        server = TransformersServe(varied_qwen2_dir, server.port).start()
        _, log = process.communicate(timeout=300)
    finally:
        server.stop()
    assert process.returncode == 0, log
    assert "trying again in" in log
    records = predictions(tmp_path / "run")
    assert len(records) == 40 and {r["id"]: r["output"] for r in records} == tiny_outputs


# --- faults a real server does not give on demand, through a proxy in front of it -------------


def test_429_500_slow_and_truncated_answers_are_retried_to_the_same_outputs(
    tiny_server: TransformersServe, varied_qwen2_dir: Path, testb: list[Sentence], tiny_outputs: dict[str, str]
) -> None:
    sentences = testb[:6]
    with FaultProxy(tiny_server.url, slow_seconds=4, retry_after=1) as proxy:
        proxy.faults.extend(["429", "500", "slow", "truncated"])
        options = {**TINY_OPTIONS, "concurrency": 1, "timeout": 2, "retries": 4}
        with predictor(proxy.url, str(varied_qwen2_dir), **options) as asking:
            began = time.monotonic()
            answers = {sentences[i].id: p.output for i, p in asking.predict(sentences)}
            seconds = time.monotonic() - began
            retried = asking.retried
    assert answers == {s.id: tiny_outputs[s.id] for s in sentences}
    assert retried == 4 and proxy.posts == len(sentences) + 4
    assert seconds >= 1 + 2  # the Retry-After of the 429, and the timeout of the slow answer


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from email.utils import formatdate

    assert retry_after("3") == 3.0 and retry_after(None) is None and retry_after("soon") is None
    assert 8 <= retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10


def test_a_refused_request_after_retries_is_an_error_naming_the_endpoint(
    tiny_server: TransformersServe, varied_qwen2_dir: Path, testb: list[Sentence]
) -> None:
    with FaultProxy(tiny_server.url) as proxy:
        proxy.faults.extend(["500", "500", "500"])
        with predictor(proxy.url, str(varied_qwen2_dir), **{**TINY_OPTIONS, "retries": 2}) as asking:
            with pytest.raises(EndpointError, match=rf"^{proxy.url}/chat/completions: 500 Internal Server Error: injected failure \(3 tries\)$"):
                list(asking.predict(testb[:1]))


# --- one-line errors, after everything finished so far is written ------------------------------


def run_cli(recipe: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", str(recipe), *args])
    return result.exit_code, result.output


def test_an_unreachable_endpoint_is_a_one_line_error(tmp_path: Path, conll: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    code, output = run_cli(write_recipe(tmp_path, conll, url, "any", retries=1))
    assert code == 1
    assert output.strip().splitlines()[-1].startswith(f"Error: {url}/chat/completions: ConnectError")
    assert "Traceback" not in output


@pytest.mark.parametrize("fault, message", [
    ("401", "401 Unauthorized: Incorrect API key provided"),
    ("html", "the answer is not JSON: '<html><body>Gateway login</body></html>'"),
])
def test_a_401_or_a_non_json_answer_stops_the_run_after_writing_what_was_answered(
    tmp_path: Path, conll: Path, tiny_server: TransformersServe, varied_qwen2_dir: Path, fault: str, message: str,
    tiny_outputs: dict[str, str],
) -> None:
    with FaultProxy(tiny_server.url) as proxy:
        proxy.faults.extend([None] * 5 + [fault])
        code, output = run_cli(write_recipe(tmp_path, conll, proxy.url, str(varied_qwen2_dir), concurrency=1))
    assert code == 1
    assert output.strip().splitlines()[-1] == f"Error: {proxy.url}/chat/completions: {message}"
    records = predictions(tmp_path / "run")
    assert len(records) == 5 and all(r["output"] == tiny_outputs[r["id"]] for r in records)


def test_an_unknown_model_name_is_the_servers_one_line_error(tmp_path: Path, conll: Path, tiny_server: TransformersServe) -> None:
    code, output = run_cli(write_recipe(tmp_path, conll, tiny_server.url, "no-such-model"))
    assert code == 1
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"Error: {tiny_server.url}/chat/completions: 400 Bad Request: ") and "no-such-model" in last
    assert last.endswith(f"(predictor.options.model is 'no-such-model'; the endpoint serves {tiny_server.model})")


def test_a_grammar_the_server_does_not_take_is_its_one_line_error(
    tmp_path: Path, conll: Path, tiny_server: TransformersServe, varied_qwen2_dir: Path
) -> None:
    """``transformers serve`` has no structured outputs: it refuses the field vLLM reads the grammar from."""
    recipe = write_recipe(tmp_path, conll, tiny_server.url, str(varied_qwen2_dir), constrain="grammar", engine="vllm")
    code, output = run_cli(recipe)
    assert code == 1
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"Error: {tiny_server.url}/chat/completions: 422 Unprocessable") and "structured_outputs" in last


# --- the key, the grammar, the prompt ----------------------------------------------------------


def test_the_api_key_is_sent_and_never_written(
    tmp_path: Path, conll: Path, tiny_server: TransformersServe, varied_qwen2_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-test-6f1e2d9c0b"
    monkeypatch.setenv("NER_TOOLKIT_TEST_KEY", key)
    logged: list[str] = []
    with FaultProxy(tiny_server.url, key=key) as proxy:
        recipe = load_recipe(write_recipe(tmp_path, conll, proxy.url, str(varied_qwen2_dir), test=4,
                                          api_key_env="NER_TOOLKIT_TEST_KEY"))
        run(recipe, log=logged.append)
    assert proxy.authorized == [True] * 4
    files = [path for path in (tmp_path / "run").rglob("*") if path.is_file()]
    assert files and not any(key.encode() in path.read_bytes() for path in files)
    assert not any(key in line for line in logged)
    assert "NER_TOOLKIT_TEST_KEY" in (tmp_path / "run" / "recipe.yaml").read_text(encoding="utf-8")


def test_an_unset_key_variable_is_a_recipe_error_before_any_work(tmp_path: Path, conll: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NER_TOOLKIT_UNSET_KEY", raising=False)
    code, output = run_cli(write_recipe(tmp_path, conll, "http://127.0.0.1:9/v1", "m", api_key_env="NER_TOOLKIT_UNSET_KEY"))
    assert code == 1 and "predictor.options.api_key_env: environment variable NER_TOOLKIT_UNSET_KEY is not set" in output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("engine, field, dialect", [("vllm", "structured_outputs", "ebnf"), ("sglang", "ebnf", "ebnf"),
                                                    ("llama.cpp", "grammar", "gbnf")])
def test_each_engine_gets_the_grammar_in_its_own_field_and_dialect(testb: list[Sentence], engine: str, field: str, dialect: str) -> None:
    asking = predictor("http://127.0.0.1:9/v1", "m", constrain="grammar", engine=engine)
    example = asking.formatter.example(testb[1])
    path, body = asking.request(example)
    grammar = copy_grammar(asking.formatter.inline_markup(), LABELS, testb[1].tokens, dialect)
    assert path == "/chat/completions" and "stop" not in body
    assert body[field] == ({"grammar": grammar} if engine == "vllm" else grammar)


def test_chat_requests_hold_the_training_conversation(testb: list[Sentence]) -> None:
    asking = predictor("http://127.0.0.1:9/v1", "served-name", ModelSpec("unused", system_prompt="Be exact."))
    example = asking.formatter.example(testb[1])
    path, body = asking.request(example)
    assert body["model"] == "served-name" and body["temperature"] == 0 and body["stop"] == ["\n"]
    assert body["messages"] == [{"role": "system", "content": "Be exact."},
                                {"role": "user", "content": f"{example.instruction}\n{example.input}"}]
    assert not {"structured_outputs", "ebnf", "grammar"} & set(body)  # constrain: none sends no grammar


# --- zero- and few-shot runs: no trainer, a served model, k examples from the train split --------


def test_a_few_shot_run_sends_the_same_drawn_examples_before_every_sentence(
    tmp_path: Path, conll: Path, tiny_server: TransformersServe, varied_qwen2_dir: Path
) -> None:
    with FaultProxy(tiny_server.url) as proxy:
        path = write_recipe(tmp_path, conll, proxy.url, str(varied_qwen2_dir), test=4)
        recipe = load_recipe(path, ["data.train=eng.train", "data.limit.train=300", "format.shots=3", "format.shot_seed=7"])
        run(recipe, log=lambda message: None)
    shots = json.loads((tmp_path / "run" / "data" / "train.json").read_text(encoding="utf-8"))[0]["history"]
    assert len(shots) == 3 and all("|" in answer for _, answer in shots)  # drawn among sentences with entities
    for body in proxy.bodies:
        messages = body["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"] * 3 + ["user"]
        assert [[messages[i]["content"], messages[i + 1]["content"]] for i in range(0, 6, 2)] == shots
    tests = json.loads((tmp_path / "run" / "data" / "test.json").read_text(encoding="utf-8"))
    assert sorted(body["messages"][-1]["content"] for body in proxy.bodies) == sorted(f"{t['instruction']}\n{t['input']}" for t in tests)

    setup = {"model": str(varied_qwen2_dir), "endpoint": proxy.url, "api": "chat", "engine": "none", "constrain": "none",
             "shots": 3, "shot_seed": 7}
    assert json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))["setup"] == setup
    assert json.loads((tmp_path / "run" / "metrics" / "test.json").read_text(encoding="utf-8"))["setup"] == setup
    assert f"endpoint `{proxy.url}`" in (tmp_path / "run" / "reports" / "test.md").read_text(encoding="utf-8")
    with pytest.raises(RecipeError, match="format.shots: tagging new text with few-shot prompts is not supported"):
        Tagger.load(tmp_path / "run")


def test_a_served_run_tags_new_text_through_its_endpoint(
    tmp_path: Path, conll: Path, tiny_server: TransformersServe, varied_qwen2_dir: Path
) -> None:
    with FaultProxy(tiny_server.url) as proxy:
        run(load_recipe(write_recipe(tmp_path, conll, proxy.url, str(varied_qwen2_dir), test=2)), log=lambda message: None)
        document = Tagger.load(tmp_path / "run")("EU rejects German call to boycott British lamb.")
    assert document.text == "EU rejects German call to boycott British lamb."
    assert proxy.posts == 3 and proxy.bodies[-1]["messages"][-1]["content"].endswith("\nEU rejects German call to boycott British lamb .")


def test_the_shots_are_drawn_by_seed(conll: Path) -> None:
    from ner_toolkit.shots import draw_shots

    train = plugins.get_reader("conll")().read(conll / "eng.train")[:500]
    examples = build_formatter("bracketed", CONLL2003_LABELS).examples(train)
    first = draw_shots(train, examples, 5, seed=0)
    assert [e.id for e in first] == [e.id for e in draw_shots(train, examples, 5, seed=0)]
    assert [e.id for e in first] != [e.id for e in draw_shots(train, examples, 5, seed=1)]
    assert all(train[[s.id for s in train].index(e.id)].spans for e in first)
    with pytest.raises(ValueError, match="format.shots: 501 examples asked for, but the train split has"):
        draw_shots(train, examples, 501, seed=0)


def test_few_shot_prompts_are_the_same_through_the_completions_endpoint_and_in_process(
    tiny_server: TransformersServe, varied_qwen2_dir: Path, testb: list[Sentence], conll: Path
) -> None:
    from ner_toolkit.shots import draw_shots, with_shots

    train = plugins.get_reader("conll")().read(conll / "eng.train")[:200]
    formatter = build_formatter("bracketed", CONLL2003_LABELS)
    shots = draw_shots(train, formatter.examples(train), 2, seed=0)
    sentences = testb[:6]
    examples = with_shots(formatter.examples(sentences), shots)
    spec = ModelSpec(str(varied_qwen2_dir))
    local_options = {"decoding": "plain", "max_new_tokens": 16, "batch_size": 1, "progress": False, "entity_scores": False}
    with build_predictor("transformers", spec, None, formatter, local_options) as local:
        expected = {i: p.output for i, p in local.predict(sentences, examples)}
    with predictor(tiny_server.url, str(varied_qwen2_dir), spec, api="completions", max_tokens=16) as asking:
        assert {i: p.output for i, p in asking.predict(sentences, examples)} == expected


def test_shots_need_a_train_split(tmp_path: Path, conll: Path) -> None:
    code, output = run_cli(write_recipe(tmp_path, conll, "http://127.0.0.1:9/v1", "m"), "--set", "format.shots=2")
    assert code == 1 and "format.shots: draws its examples from data.train, which the recipe does not name" in output


def test_a_rerun_with_other_shots_or_another_model_asks_again(
    tmp_path: Path, conll: Path, tiny_server: TransformersServe, varied_qwen2_dir: Path
) -> None:
    path = write_recipe(tmp_path, conll, tiny_server.url, str(varied_qwen2_dir), test=3)
    shots = ["data.train=eng.train", "data.limit.train=200", "format.shots=2"]
    logs: list[list[str]] = []
    for overrides in (shots, shots, [*shots, "format.shot_seed=1"], [*shots, "format.shot_seed=1", "predictor.options.model=other"]):
        logs.append([])
        try:
            run(load_recipe(path, overrides), log=logs[-1].append)
        except EndpointError:
            pass  # the server serves no model called other; the run still planned and said what it redoes
    assert not any("redo" in line for line in logs[1])
    assert any(line.startswith("predict: 3 of 3 sentences to generate") for line in logs[2])
    assert any(line.startswith("render:test: redo (changed: format.shots.seed)") for line in logs[2])
    assert any(line.startswith("predict:test: redo (changed: predictor.options.model)") for line in logs[3])


@pytest.mark.parametrize("system_prompt", [None, "", "Be exact."])
def test_the_chat_template_renders_as_transformers_renders_it(
    smollm2_dir: Path, varied_qwen2_dir: Path, testb: list[Sentence], system_prompt: str | None
) -> None:
    from transformers import AutoTokenizer

    from ner_toolkit.engines.chat_template import ChatTemplate
    from ner_toolkit.prompts import prompt_text

    formatter = build_formatter("bracketed", CONLL2003_LABELS)
    examples = formatter.examples(testb[:3])
    example = replace(examples[2], shots=tuple(examples[:2]))
    for folder in (smollm2_dir, varied_qwen2_dir):
        spec = ModelSpec(str(folder))
        expected = prompt_text(AutoTokenizer.from_pretrained(str(folder)), example, "model", system_prompt)
        assert prompt_text(ChatTemplate.of(spec), example, "model", system_prompt) == expected
