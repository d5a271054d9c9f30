"""The triage engine on the base model: the cue rules (danger, negation, worry, question, pets,
matters for neither platform), uncertainty, a hub's list naming the matter and its units, and the
model's export."""
from __future__ import annotations

import numpy as np
import pytest

from modules.triage import service
from modules.triage.engine import Engine, Thresholds
from modules.triage.features import cue_hits
from modules.triage.model import LinearModel, train
from tests.modules.triage.steps import KNIFE, STREET_LIGHT, acting, taiyuan_list

UNSURE = "无法排除危及人身或公共安全的情况，按紧急处置，请核实"


@pytest.fixture()
def engine(app):
    with app.app_context():
        yield Engine(service.base_model())


def _flags(s):
    return s.platform, s.emergency, s.kind


def test_a_knife_attack_is_a_110_emergency_with_the_cue_in_the_reasons(engine):
    s = engine.classify(KNIFE)
    assert _flags(s) == ("110", True, "报警") and not s.uncertain
    assert "暴力或正在发生的违法犯罪：“拿刀”“追着”" in s.reasons
    assert "危险线索未见否定、也非过去发生，按紧急警情处理" in s.reasons
    assert s.confidence > 0.8 and s.grade == "一般"
    body = s.as_json()
    assert {"platform", "emergency", "kind", "confidence", "reasons", "suggested_units"} <= set(body)
    assert (body["platform"], body["emergency"], body["suggested_units"], body["matter"]) == ("110", True, [], None)


def test_a_broken_street_light_is_a_12345_request(engine):
    s = engine.classify(STREET_LIGHT)
    assert _flags(s) == ("12345", False, "求助") and not s.uncertain and s.grade is None
    assert s.units == [] and s.match is None  # no list, no units


def test_with_taiyuans_list_the_street_light_names_the_matter_and_the_urban_unit(world):
    taiyuan_list(world)
    with acting("ty_agent", "140100") as agent:
        s = service.suggest(agent.tenant, STREET_LIGHT)
    assert _flags(s) == ("12345", False, "求助")
    assert s.units == ["140100-urban"]
    assert s.match.matter.key == "street-light" and "路灯" in s.match.matter.matter
    body = s.as_json()
    assert body["suggested_units"] == ["140100-urban"]
    assert body["matter"] == {"key": "street-light", "matter": "路灯不亮或损坏", "category": "求助",
                              "deadline_working_days": 5}
    assert any(r.startswith("清单事项：路灯不亮或损坏") and "“路灯”" in r for r in body["reasons"])


def test_a_county_with_no_unit_of_its_own_is_suggested_its_hubs(world):
    taiyuan_list(world)
    with acting("xd_agent", "140105") as agent:  # 小店区 has no 城乡管理局: 太原's unit is suggested
        s = service.suggest(agent.tenant, STREET_LIGHT)
    assert s.match is not None and s.match.matter.key == "street-light", s.reasons
    assert s.units == ["140100-urban"]


def test_a_hub_on_the_province_template_gets_the_matter_and_its_own_units(world):
    taiyuan_list(world, publish=False)  # 太原 has only a draft: the template applies, units found by name
    with acting("ty_agent", "140100") as agent:
        s = service.suggest(agent.tenant, STREET_LIGHT)
    assert s.match is not None and s.match.matter.key == "street-light", s.reasons
    assert s.units == ["140100-urban"]


def test_the_cue_layer_reads_negation_worry_questions_and_pets():
    assert cue_hits("两车追尾了，没有人受伤")["cancel"] == ["没有人受伤"]
    assert "injury" not in cue_hits("两车追尾了，没有人受伤"), "“受伤” inside “没有人受伤” is not an injury"
    worry = cue_hits("楼道里堆满杂物，担心起火")
    assert "fire" not in worry and "起火" in worry["hypothetical"]
    assert cue_hits("是不是着火了") == {"fire": ["着火"]}
    calm = cue_hits("没着火，就是有点烟味")
    assert "fire" not in calm and "没着火" in calm["cancel"]
    assert "pet" in cue_hits("我家猫走丢了")


def test_no_one_hurt_lowers_a_crash_to_a_non_emergency(engine):
    hurt = engine.classify("两车追尾了，有人受伤")
    assert (hurt.platform, hurt.emergency) == ("122", True)
    s = engine.classify("两车追尾了，没有人受伤")
    assert s.platform == "122" and s.kind == "报警"
    assert (s.emergency, s.uncertain) == (False, False), s.reasons
    assert not any(r.startswith("有人受伤") for r in s.reasons), s.reasons


def test_a_worry_about_fire_is_not_an_emergency(engine):
    s = engine.classify("楼道里堆满杂物，担心起火")
    assert (s.platform, s.emergency) == ("12345", False), s.reasons
    assert "只是担心或隐患：“担心”“起火”" in s.reasons


def test_a_fire_asked_as_a_question_still_counts(engine):
    s = engine.classify("是不是着火了")
    assert _flags(s) == ("119", True, "紧急求助") and not s.uncertain
    assert "火情、爆炸或人员被困：“着火”" in s.reasons


def test_a_lost_cat_is_not_a_missing_person(engine):
    child = engine.classify("我家孩子走丢了")
    assert (child.platform, child.emergency) == ("110", True)
    s = engine.classify("我家猫走丢了")
    assert _flags(s) == ("12345", False, "求助"), s.reasons
    assert not any(r.startswith("人员走失") for r in s.reasons), s.reasons


def test_an_uncertain_crash_is_flagged_uncertain_and_treated_as_an_emergency(engine):
    """Below the emergency threshold but above the unsure one: the engine cannot
    rule an emergency out. The thresholds are set around the model's own probability for the text,
    so the test holds whatever the corpus teaches."""
    text = "路口两辆车蹭了一下"
    plain = engine.classify(text)
    p = float(plain.reasons[-1].rsplit("紧急可能 ", 1)[1].rstrip("%")) / 100
    assert 0.0 < p < 0.99, plain.reasons
    strict = Engine(engine.model, thresholds=Thresholds(emergency=min(p + 0.05, 0.999), unsure=max(p - 0.05, 0.0)))
    s = strict.classify(text)
    assert (s.platform, s.emergency, s.uncertain) == ("122", True, True), s.reasons
    assert UNSURE in s.reasons and s.confidence <= 0.5 and s.as_json()["uncertain"] is True
    calm = strict.classify(STREET_LIGHT)  # a lower probability: nothing to be unsure about
    assert (calm.emergency, calm.uncertain) == (False, False) and UNSURE not in calm.reasons


def test_a_court_matter_belongs_to_neither_and_gets_the_channel(engine):
    s = engine.classify("法院判决了对方一直不执行")
    assert (s.platform, s.emergency, s.channel) == ("other", False, "法院")
    assert s.platform_label == "不属于双方" and s.as_json()["channel"] == "法院"
    assert any(r.startswith("属法院职能") for r in s.reasons)


def test_a_dumped_and_loaded_model_classifies_exactly_the_same(engine):
    from modules.triage import corpus

    model = engine.model
    again = LinearModel.load(model.dump())
    assert again is not model
    texts = [KNIFE, STREET_LIGHT, "是不是着火了", "我车被追尾了", ""] + [e.text for e in corpus.testing()[:60]]
    loaded = Engine(again)
    for text in texts:
        assert loaded.classify(text).as_json() == engine.classify(text).as_json(), text


def test_a_batch_gets_exactly_the_answers_of_one_at_a_time(app):
    """The batch command and the evaluation use classify_many: its features and scores are computed
    for a whole chunk at once, and must be the same as classify's, request by request."""
    from modules.triage import corpus
    from modules.triage.matcher import Matcher

    with app.app_context():
        engine = Engine(service.base_model(), Matcher.from_template())
    texts = [e.text for e in corpus.load()[:400]] + ["", "路", "，，。", "路灯 坏了", KNIFE, STREET_LIGHT]
    assert [s.as_json() for s in engine.classify_many(texts)] == [engine.classify(t).as_json() for t in texts]


def test_training_repeats_exactly():
    """The quality floors in test_quality rest on it: the same examples give the same weights."""
    from modules.triage import corpus

    sample = corpus.training()[:600]
    first, second = train(sample), train(sample)
    assert np.array_equal(first.weights, second.weights) and np.array_equal(first.bias, second.bias)
    assert np.array_equal(first.idf, second.idf)
