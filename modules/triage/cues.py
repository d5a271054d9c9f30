"""The rule layer's words: cues that a request may be an emergency, cues of time, negation and
hearsay, and cues that a matter belongs to neither platform. Every group has the label that an
agent reads in the reasons. Words are matched as substrings of the request in one pass.

The lists come from the seeds' 110 and emergency scopes (刑事、治安、交通警情; 溺水、坠楼、自杀;
走失; 公共设施险情; 自然灾害; 群体性事件), the 119/120/122 hand-offs and the 12345 exclusion lists
of 德化 and 宝丰; they were written before the corpus, not fitted to it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CueGroup:
    name: str
    label: str
    role: str            # danger | traffic | injury | now | past | cancel | hypothetical | hearsay | other
    platform: str | None  # the platform a danger points to (119 fire, 120 medical, 110 otherwise)
    kind: str | None
    words: tuple[str, ...]


def _w(text: str) -> tuple[str, ...]:
    return tuple(text.split())


GROUPS: tuple[CueGroup, ...] = (
    CueGroup("violence", "暴力或正在发生的违法犯罪", "danger", "110", "报警", _w(
        "拿刀 持刀 拿着刀 菜刀 砍人 砍伤 刀砍 在砍 砍死 捅人 捅了 捅伤 杀人 要杀 杀了他 弄死 打死 往死里打 "
        "正在打 在打人 打人了 殴打 斗殴 群殴 打群架 动手了 抢劫 抢包 抢钱 抢手机 抢走 飞车抢 持枪 有枪 "
        "绑架 劫持 绑走 强奸 猥亵 家暴 撬门 撬锁 入室 砸车 砸门 砸东西 砸店 追着 行凶 械斗 拿棍 铁棍 "
        "棍子 泼汽油 纵火 同归于尽 掐脖子 掐着 剁手 剁了你 要剁 打老婆 打媳妇 往死里 惨叫 呼救 喊救命 衣服撕破 拖走 拖进 "
        "强行拉 拽进车 砸玻璃 踹门 浇汽油 汽油味 抢了 让人抢 被抢 举着砖头 追人 拿砖头 拿斧头 传销 围着打 打我们 打医生")),
    CueGroup("life", "生命危险或人员走失", "danger", "110", "紧急求助", _w(
        "救命 跳楼 要跳 想跳 跳河 跳桥 跳下去 轻生 自杀 寻死 不想活 割腕 溺水 落水 掉河里 掉水里 "
        "掉进河 掉进水 河里有人 水里有人 掉井里 掉进井 被困 困在山 迷路了 丢了孩子 孩子不见 "
        "坠楼 坠落 被冲走 冲走了 卷走 看不见人了 绑了 被绑 撕票 扣押 扣住 扣在 不让走 不让离开 关起来 被关 "
        "被控制 看守 关在 锁车里 锁在车里 困在车里 迷路 躺马路 躺在马路 喊不起来 叫也不答应 叫她也不答应 叫他也不答应 没动静 被拐 拐走 抱走")),
    CueGroup("missing", "人员走失", "danger", "110", "紧急求助", _w(
        "走失 走丢 丢了孩子 孩子不见 孩子丢了 找不到孩子 孩子找不到 找不到人 老人不见 不见了 失联 "
        "联系不上 未归 没回来 还没回来 下落不明 人就没了 人没了 找遍了 都没找着 没找到人 无人区 陷进 陷在 捡到一个小孩 捡到个孩子 没看见大人")),
    CueGroup("pet", "走失的是动物", "pet", None, None, _w("猫 狗 犬 宠物 鹦鹉 兔子 泰迪 金毛 防走失")),
    CueGroup("fire", "火情、爆炸或人员被困", "danger", "119", "紧急求助", _w(
        "着火 起火 失火 火灾 冒烟 浓烟 黑烟 烧起来 烧着了 火苗 明火 大火 火势 爆炸 炸了 爆燃 "
        "烧焦味 电梯困人 困在电梯 关在电梯 电梯里有人 卡在电梯 坍塌 倒塌 埋了人 被埋 化学品泄漏 危化品 焦味 糊味 烧塑料 着了 火星 火光 烧了起来")),
    CueGroup("medical", "急症或重伤", "danger", "120", "紧急求助", _w(
        "晕倒 昏倒 昏迷 叫不醒 不省人事 没有呼吸 没呼吸 没气了 没意识 心脏病 心梗 胸口疼 胸口痛 胸痛 "
        "喘不上气 呼吸困难 抽搐 口吐白沫 中风 脑梗 嘴歪 羊水破 要生了 快生了 大出血 噎住 卡住喉咙 "
        "中毒 煤气中毒 一氧化碳 喝农药 喝了农药 吃了安眠药 休克 摔倒起不来 倒地不起 重伤 骨折 烫伤 触电 羊水 宫缩 卷进去 夹住了 压住了 砸中 砸伤 迷迷糊糊 眼睛都睁不开 切下来 切掉 血哗哗 止不住血 吃了好几片 误服 吞了 嘴也歪 抬不起来 说话不利索 不省事 晕过去 昏过去 见红 疼得厉害 头晕想吐 中暑 叫他也不应 "
        "叫她也不应 没反应")),
    CueGroup("hazard", "公共设施险情或自然灾害", "danger", "110", "紧急求助", _w(
        "电线掉 电线断 电线杆倒 电线落地 高压线 漏电 漏气 燃气泄漏 煤气泄漏 天然气泄漏 煤气味 燃气味 "
        "天然气味 液化气味 爆管 水管爆 管道爆 喷水 井盖没了 井盖丢 没有井盖 井盖被偷 塌陷 塌方 滑坡 "
        "泥石流 山洪 洪水 被淹 决堤 地震 落石 树倒 广告牌掉 快掉下来 要掉下来 摇摇欲坠 快塌了 要塌了 滑土 冲下来 推倒 井盖翻 窨井")),
    CueGroup("crowd", "人员聚集或群体性事件", "danger", "110", "紧急求助", _w(
        "聚集 堵路 堵门 围堵 围攻 冲击 冲进 上百人 几百人 几十个人 几十人 一群人 一帮人 拉横幅 闹事 "
        "堵着大门 堵住路口")),
    CueGroup("scam", "正在被诈骗", "danger", "110", "报警", _w(
        "让我转账 要我转账 叫我转账 正在转账 安全账户 冒充公安 冒充警察 说我涉嫌 洗钱 验证码给")),
    CueGroup("traffic", "道路交通事故", "traffic", "122", "报警", _w(
        "车祸 撞车 撞了 被撞 撞倒 撞到 追尾 相撞 翻车 侧翻 刮蹭 剐蹭 蹭了 交通事故 肇事 逃逸 碾压 "
        "撞上 撞伤 撞人 刮倒 逆行 画龙 酒驾 醉驾 喝多了开车")),
    CueGroup("injury", "有人受伤", "injury", "120", "紧急求助", _w(
        "受伤 流血 出血 伤了 头破 血流 满脸是血 一身血 伤得 伤者 送医院 起不来 动不了 卡在车里 压在车下 压在车轮")),
    CueGroup("now", "正在发生", "now", None, None, _w(
        "正在 现在 刚刚 刚才 马上 快来 快点 赶紧 赶快 此刻 还在 一直在 就在 眼看 来不及 快过来 "
        "赶快来 求求你们 快派人 立刻")),
    CueGroup("past", "已经过去", "past", None, None, _w(
        "上个月 上周 上星期 上礼拜 去年 前年 前几天 前些天 几个月 一个多月 半年 之前 以前 那时候 "
        "早就 已经过去 好几天 好几个月 那天 昨天 前两天 前阵子 上回 上次 那回")),
    # Facts that call a danger off. What a caller says of their own call ("不是要报警", "不着急") is
    # not one of them: people in danger often play it down, so it changes nothing (see "downplay").
    CueGroup("cancel", "没有危险", "cancel", None, None, _w(
        "没有人受伤 没人受伤 没受伤 无人受伤 人没事 人都没事 没有危险 没危险 已经灭了 火灭了 火已经灭 "
        "已经扑灭 已经处理完 处理好了 已经走了 已经离开 没打起来 已经救出 不是着火 没着火 没起火 没漏电 "
        "没冒火花 没出过事 没出啥事 没出事 暂无人员受伤 无人员受伤 暂无人受伤 闻不到了 查过了")),
    CueGroup("downplay", "来电人自述不急（不据此降低紧急程度）", "downplay", None, None, _w(
        "不是要报警 不用报警 不想报警 不报警 不是报警 不用出警 不紧急 不着急 就想问问")),
    CueGroup("hypothetical", "只是担心或隐患", "hypothetical", None, None, _w(
        "担心 害怕 怕出事 怕起火 隐患 万一 容易 会不会 存在安全 安全隐患 迟早 早晚 要是")),
    CueGroup("question", "咨询办理", "question", None, None, _w(
        "咨询 想问 问一下 问问 请问 怎么办理 如何办理 需要什么材料 在哪里办 流程 政策 能不能")),
    CueGroup("hearsay", "传闻或不确定", "hearsay", None, None, _w(
        "听说 据说 听人说 听别人说 好像 似乎 不确定 不知道是不是 看不清 可能是")),
    CueGroup("court", "属法院职能", "other", "法院", None, _w(
        "法院 判决 法官 执行局 强制执行 申请执行 起诉 立案庭 开庭 诉讼 判了 裁定 老赖 执行款")),
    CueGroup("procuratorate", "属检察院职能", "other", "检察院", None, _w("检察院 检察官 不起诉 公诉")),
    CueGroup("discipline", "属纪检监察职能", "other", "纪检监察", None, _w(
        "纪委 监委 纪检 贪污 受贿 行贿 腐败 挪用公款 侵吞 公款吃喝 收红包 违纪")),
    CueGroup("arbitration", "属仲裁途径", "other", "仲裁", None, _w("仲裁 仲裁委 仲裁庭 复议 行政复议")),
    CueGroup("petition", "属信访途径", "other", "信访", None, _w("信访 上访 信访局 信访答复 复查意见 复核意见")),
    CueGroup("congress", "属人大、政协职能", "other", "人大", None, _w("人大 人大代表 政协 政协委员 立法")),
    CueGroup("army", "属军队职能", "other", "军队", None, _w("部队 军队 武警 现役 军区 服役")),
    CueGroup("party", "属组织部门", "other", "组织", None, _w("党员 组织关系 党组织 入党 党费 12380 党籍")),
    CueGroup("elsewhere", "不属本地管辖", "other", "外地", None, _w("外省 省外 外市 不在本市 不归本地")),
)

BY_NAME = {group.name: group for group in GROUPS}
DANGER = frozenset(g.name for g in GROUPS if g.role == "danger")
