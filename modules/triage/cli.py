"""`flask triage ...`: prepare the base model, classify JSON lines in batch, evaluate on the held-out
corpus, load the template."""
from __future__ import annotations

import json
import sys

import click
from flask import Flask

from saas.db import as_tenant, system_context, transaction

CHUNK = 1000  # lines classified together by the batch command
FIELDS = ("platform", "emergency", "kind", "confidence", "reasons", "suggested_units")


def init_app(app: Flask) -> None:
    @app.cli.group()
    def triage():
        """Triage: the base model, batch classification, evaluation, the province template."""

    @triage.command("prepare")
    def prepare():
        """Train the base model from the corpus into instance/triage (once per release and host,
        after `db upgrade`), so that no request waits for the training."""
        import time

        from modules.triage import service

        start = time.perf_counter()
        service.base_model()
        click.echo(f"base triage model ready ({time.perf_counter() - start:.1f} s)")

    @triage.command("classify")
    @click.option("--tenant", "default_tenant", default=None, help="division code for lines without \"tenant\"")
    def classify(default_tenant):
        """Read {"id", "text"[, "tenant"]} per line on standard input; write each line back with
        platform, emergency, kind, confidence, reasons and suggested_units. Lines are classified in
        chunks (Engine.classify_many). A bad line is written back with "error" and counted; the exit
        status is 1 if any line was bad."""
        from modules.cases.models import MAX_TEXT
        from modules.triage import service
        from tenants.service import by_code

        engines: dict[str | None, object] = {}
        bad = 0

        def engine(code):
            if code not in engines:
                tenant = by_code(code) if code else None
                if code and tenant is None:
                    raise ValueError(f"没有代码为 {code} 的租户")
                engines[code] = service.engine_for(tenant) if tenant else service.base_engine()
            return engines[code]

        def entry(number: int, line: str) -> tuple[dict, object]:
            """(the row, its engine) for a good line; (the row with "error", None) for a bad one."""
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                return {"line": number, "error": "不是合法的 JSON"}, None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
                error = "每行应为含 text 字段（非空字符串）的 JSON 对象"
                return ({**row, "error": error} if isinstance(row, dict) else {"line": number, "error": error}), None
            try:
                return row, engine(row.get("tenant") or default_tenant)
            except ValueError as exc:
                return {**row, "error": str(exc)}, None

        def answer(chunk: list) -> None:
            """Classify a chunk's good rows per engine, then write every row in input order."""
            groups: dict[int, tuple[object, list[dict]]] = {}
            for row, eng in chunk:
                if eng is not None:
                    groups.setdefault(id(eng), (eng, []))[1].append(row)
            for eng, rows in groups.values():
                for row, suggestion in zip(rows, eng.classify_many([r["text"][:MAX_TEXT] for r in rows])):
                    result = suggestion.as_json()
                    row.update({k: result[k] for k in FIELDS})
            for row, _eng in chunk:
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")

        with as_tenant(system_context()):
            chunk: list = []
            for number, line in enumerate(sys.stdin, 1):
                if not line.strip():
                    continue
                row, eng = entry(number, line)
                if eng is None:
                    bad += 1
                    click.echo(f"第{number}行：{row['error']}", err=True)
                chunk.append((row, eng))
                if len(chunk) >= CHUNK:
                    answer(chunk)
                    chunk = []
            answer(chunk)
        if bad:
            sys.exit(1)

    @triage.command("evaluate")
    def evaluate():
        """Train on the corpus's training part; report on its held-out part and on the fresh test set."""
        from modules.triage import corpus
        from modules.triage.engine import Engine
        from modules.triage.evaluation import evaluate as run, markdown
        from modules.triage.model import train

        engine = Engine(train(corpus.training()))
        click.echo(f"training {len(corpus.training())} examples")
        for title, examples in (("held-out part of the corpus", corpus.testing()),
                                ("fresh test set (corpus/test/)", corpus.fresh())):
            if not examples:
                continue
            report = run(engine, examples)
            click.echo(f"\n## {title}\n")
            click.echo(markdown(report))
            for example, platform in report.missed:
                click.echo(f"missed emergency {example.id}: {platform} ← {example.text}")

    @triage.command("crossvalidate")
    @click.option("--unsure", default="0.1,0.12,0.15,0.17,0.2", show_default=True,
                  help="the values of the 'cannot rule out' threshold to compare")
    def crossvalidate(unsure):
        """5-fold cross-validation on the corpus's training part, for each value of the 'cannot rule
        out' threshold: how the engine's thresholds were chosen (the highest accuracy with at least
        99.2% of emergencies caught)."""
        from dataclasses import replace

        from modules.triage import corpus
        from modules.triage.engine import Thresholds
        from modules.triage.evaluation import cross_validate

        try:
            values = [float(v) for v in unsure.split(",")]
        except ValueError:
            raise click.BadParameter("请用逗号分隔的小数，例如 0.15,0.17", param_hint="--unsure") from None
        examples = corpus.training()
        choices = [replace(Thresholds(), unsure=v) for v in values]
        click.echo(f"training part {len(examples)} examples, 5 folds\n")
        click.echo("| unsure | platform accuracy | emergency recall |\n|---|---|---|")
        for choice, r in zip(choices, cross_validate(examples, choices)):
            mark = " (engine)" if choice == Thresholds() else ""
            click.echo(f"| {choice.unsure}{mark} | {r.accuracy:.2%} | {r.emergency_recall:.2%} |")

    @triage.command("load-template")
    @click.argument("province_code")
    def load_template(province_code):
        """Load the shipped province template as PROVINCE_CODE's list (once)."""
        from modules.triage import lists
        from tenants.service import by_code

        with as_tenant(system_context()), transaction():
            province = by_code(province_code)
            if province is None or province.level != "province":
                raise click.ClickException(f"没有代码为 {province_code} 的省级租户")
            lst = lists.load_template(province)
        click.echo(f"{lst.name}: loaded")
