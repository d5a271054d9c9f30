"""`flask triage ...`: classify JSON lines in batch, evaluate on the held-out corpus, load the template."""
from __future__ import annotations

import json
import sys

import click
from flask import Flask

from saas.db import as_tenant, system_context, transaction


def init_app(app: Flask) -> None:
    @app.cli.group()
    def triage():
        """Triage: batch classification, evaluation, the province template."""

    @triage.command("classify")
    @click.option("--tenant", "default_tenant", default=None, help="division code for lines without \"tenant\"")
    def classify(default_tenant):
        """Read {"id", "text"[, "tenant"]} per line on standard input; write each line back with
        platform, emergency, kind, confidence, reasons and suggested_units. A bad line is written
        back with "error" and counted; the exit status is 1 if any line was bad."""
        from modules.triage import service
        from tenants.service import by_code

        engines: dict[str | None, object] = {}
        bad = 0
        with as_tenant(system_context()):
            def engine(code):
                if code not in engines:
                    tenant = by_code(code) if code else None
                    if code and tenant is None:
                        raise KeyError(code)
                    engines[code] = service.engine_for(tenant) if tenant else service.base_engine()
                return engines[code]

            out = sys.stdout
            for number, line in enumerate(sys.stdin, 1):
                if not line.strip():
                    continue
                row = None
                try:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        raise ValueError("不是合法的 JSON") from None
                    if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
                        raise ValueError("每行应为含 text 字段（非空字符串）的 JSON 对象")
                    code = row.get("tenant") or default_tenant
                    try:
                        suggestion = engine(code).classify(row["text"][:service.MAX_TEXT])
                    except KeyError:
                        raise ValueError(f"没有代码为 {code} 的租户") from None
                    answer = suggestion.as_json()
                    row.update({k: answer[k] for k in ("platform", "emergency", "kind", "confidence", "reasons",
                                                       "suggested_units")})
                except ValueError as exc:
                    bad += 1
                    row = {**row, "error": str(exc)} if isinstance(row, dict) else {"line": number, "error": str(exc)}
                    click.echo(f"第{number}行：{exc}", err=True)
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
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
