"""Every word the bot says, as named templates. Tests assert on meaning, not punctuation."""

from __future__ import annotations

from datetime import datetime

from handlers import registry
from handlers.registry import Section

STATUS_NAMES = {"open": "待认领", "claimed": "办理中", "closed": "已办结", "withdrawn": "已撤回"}
LEVEL_NAMES = {"group": "组", "village": "村", "town": "镇"}
MEDIA_NAMES = {
    "photo": "图片",
    "voice": "语音",
    "video": "视频",
    "document": "文件",
    "location": "位置",
}
RATING_BUTTONS = [("满意", "1"), ("基本满意", "2"), ("不满意", "3")]
SYSTEM_ACTOR = "系统"


def when(dt: datetime, tz: object | None = None) -> str:
    """11月24日 09:00, in the deployment's timezone."""
    local = dt.astimezone(tz) if tz is not None else dt  # type: ignore[arg-type]
    return f"{local.month}月{local.day}日 {local:%H:%M}"


# --- intake ---------------------------------------------------------------------------------
ACK_PUBLIC = "已登记 #{n}【{kind}】{summary}\n负责人：{owner}，限 {due} 前办结。"
ACK_STUB = "已登记 #{n}【{kind}】，负责人：{owner}，限 {due} 前办结。详情已私下转给负责人。"
ACK_UNSORTED = (
    "已收到{name}的{media}，登记为 #{n}【待分类】，由{owner}查看后分类，限 {due} 前办结。"
)
ACK_PRIVATE = "已登记 #{n}【{kind}】，负责人：{owner}，限 {due} 前办结。办好后会告诉您结果。"
OWNER_NEW = (
    "新事项 #{n}【{kind}】\n反映人：{reporter}（{where}）\n内容：{text}\n限 {due} 前办结。\n"
    "接手请回复“认领”，办好后回复“办结 结果”。"
)
OWNER_NEW_UNSORTED_HINT = "\n这是{media}，请看后定类别：改类 {n} 村里事 / 邻里事 / 户里事"
# Speech to text mishears names and places: the owner should know the words were not typed.
OWNER_NEW_SPOKEN = "\n（内容是机器听写的语音，可能有错字，请听原语音核对。）"
NOTE_ADDED = "已补充到 #{n}，负责人{owner}会看到。"
OWNER_NOTE = "#{n} 反映人补充：{text}"
ASK_VILLAGE = "请问是哪个村的事？请回复村名：{names}"
VILLAGE_UNKNOWN = "没有“{text}”这个村。请回复村名：{names}"
DUPLICATE = "已有 #{n} 登记此事，已记下您的反映（共{count}人反映）。"
OWNER_DUPLICATE = "#{n} 又有人反映（共{count}人反映）：{text}"

# --- commands -------------------------------------------------------------------------------
CLAIMED = "#{n} 已由{name}认领，限 {due} 前办结。"
CLOSED_ACTOR = "#{n} 已办结，已把结果告诉反映人。"
CLOSED_PUBLIC = "#{n} 已办结：{result}\n{reporter}，请评价：满意 / 基本满意 / 不满意。"
CLOSED_PRIVATE = (
    "您反映的 #{n}（{summary}）已办结。\n结果：{result}\n请评价：满意 / 基本满意 / 不满意。"
)
RATE_HINT_WORDS = "\n（回复“满意”“基本满意”“不满意”，或 1 / 2 / 3）"
RESULT_PROMPT = "请发送 #{n} 的办理结果（一句话即可），如：已修好。"
NOTE_OK = "#{n} 已记下进展。"
OWNER_NOTE_FROM = "#{n} {name}记了进展：{text}"
DUE_OK = "#{n} 限期改为 {due}。"
TAG_OK = "#{n} 类别改为【{kind}】。"
ASSIGNED = "#{n} 已指派给{owner}，限 {due} 前办结。"
OWNER_ASSIGNED = "{actor}把 #{n}【{kind}】指派给您：{text}\n限 {due} 前办结。"
REOPENED = "#{n} 重新办理，负责人：{owner}，限 {due} 前办结。"
OWNER_REOPENED = "#{n} 重新办理（{reason}），限 {due} 前办结。"
WITHDRAWN = "#{n} 已撤回。"
OWNER_WITHDRAWN = "#{n} 已被反映人撤回，不用再办。"
STATUS_LINE = "#{n}【{kind}】{status}，负责人：{owner}，限 {due}{late}"
STATUS_LATE = "，已超期{days}天"
STATUS_SUMMARY = "\n内容：{summary}"
STATUS_RESULT = "\n结果：{result}"
STATUS_REPORTS = "\n共{count}人反映"
MINE_HEADER = "您负责的未办结事项（{count}件）："
MINE_REPORTED_HEADER = "您反映的事项（{count}件）："
MINE_EMPTY = "您现在没有未办结的事项。"
MINE_REPORTED_EMPTY = "您还没有反映过事项。有事直接在群里说就行。"
LIST_HEADER = "{group}未办结的村里事（{count}件）："
LIST_EMPTY = "{group}现在没有未办结的村里事。"
LIST_ITEM = "#{n} {summary}｜{owner}，限 {due}{late}"
LIST_MORE = "……还有{count}件，请到后台查看。"

# /help: the intro, then each section with its commands' examples (handlers/registry.py decides
# which commands each lists, in its order, `HELP_PER_LINE` to a line).
HELP_INTRO = (
    "说事助手：有事直接在群里说，我会登记、交给负责人并跟进。\n"
    "开头写“说事”一定登记；写 #邻里事 或【户里事】可自己定类别。"
)
HELP_SECTIONS = {
    Section.GRID: "网格员和村干部可用（编号可省略，直接回复我关于那件事的消息即可）：\n{items}",
    Section.REPORTER: "反映人可用：{items}。办结后回复 满意 / 基本满意 / 不满意。",
    Section.FIRST_USE: "干部第一次用请私聊我：{items}",
}
# After a command only 书记 and 镇领导 may use: 指派 12 张姐（书记、镇领导）.
HELP_ONLY = "（{who}）"
HELP_PER_LINE = 5
HELP = registry.help_text(
    HELP_INTRO, HELP_SECTIONS, only=HELP_ONLY, per_line=HELP_PER_LINE, sep="｜"
)
START_PRIVATE = (
    "您好，我是说事助手。村民在说事群里说的事，我会登记、交给网格员并跟进到办结。\n"
    "您也可以直接私聊我说事。干部请发送：绑定 绑定码（绑定码向管理员要）。\n"
    "发“帮助”看全部命令。"
)
BIND_OK = "绑定成功：{name}（{place}{role}）。以后您在群里就能用认领、办结等命令了。"
BIND_BAD = "绑定码不对或已用过。请向管理员要新的绑定码。"
BIND_IN_GROUP = "绑定请私聊我发送：绑定 绑定码（不要发在群里）。"
BIND_NO_CODE = "请写上绑定码，如：绑定 123456"

# --- refusals (state unchanged) -------------------------------------------------------------
NEED_NUMBER = "请写上事项编号，如：{example}"
NO_SUCH_ISSUE = "没有 #{n} 这件事，请核对编号。发“我的”看自己的事项。"
NOT_GRID = "只有网格员和村干部能{action}。有事直接在群里说就行。"
OTHER_VILLAGE = "#{n} 是{village}的事，不归您管。"
CLOSE_NEEDS_RESULT = "办结要写结果，如：办结 {n} 已修好"
NOTE_NEEDS_TEXT = "请写上进展，如：进展 {n} 已联系施工队"
NOT_ACTIVE = "#{n} {status}，不能再{action}。"
ALREADY_CLAIMED = "#{n} 已由{owner}认领。需要换人请书记指派：指派 {n} 姓名"
ONLY_OWNER = "#{n} 由{owner}负责，只有负责人、书记或镇领导能{action}。"
ONLY_LEADERS = "只有书记和镇领导能{action}。"
ASSIGN_WHO = "请写上指派给谁，如：指派 {n} {example}"
ASSIGN_UNKNOWN = "{village}网格里没有“{name}”。可指派：{names}"
DUE_NEEDS_TIME = "请写上期限，如：限期 {n} 3天（也可写 12小时、明天、2026-12-01）"
DUE_BAD = "看不懂期限“{arg}”。请写 3天、12小时、明天 或 2026-12-01。"
DUE_PAST = "期限不能早于现在，请重写，如：限期 {n} 3天"
DUE_TOO_FAR = "期限太远了（最多一年），请重写，如：限期 {n} 30天"
TAG_BAD = "请写类别，如：改类 {n} 村里事（可选：村里事、邻里事、户里事）"
NOT_CLOSED = "#{n} 还在办理中，不用重办。"
ONLY_REPORTER = "只有反映人本人能撤回 #{n}。"
UNKNOWN_COMMAND = "没有“{word}”这个命令。发“帮助”看能用的命令。"
ARGS_TOO_LONG = "内容太长了，请精简到{limit}字以内。"
RATING_THANKS = "谢谢您对 #{n} 的评价：{rating}。"
RATING_UNSATISFIED = "收到“不满意”，#{n} 重新办理，负责人：{owner}，限 {due} 前办结。"
SECRETARY_UNSATISFIED = (
    "#{n}【{kind}】反映人不满意，已重新办理。负责人：{owner}。原办理结果：{result}"
)
RATING_NOT_YOURS = "只有 #{n} 的反映人能评价。"
RATING_ALREADY = "#{n} 已经评价过了，谢谢。"
BUTTON_STALE = "这个按钮已经失效了。"
UNKNOWN_GROUP = (
    "这个群还没登记到说事网格里，暂不登记事项。请管理员把 {chat_key} 加到网格文件 "
    "villages.groups 的 chats 里。"
)

# --- admin ----------------------------------------------------------------------------------
ADMIN_RELAY = "{actor}在后台：{text}"  # a change the owner would otherwise not hear of
# A kept post registered or dismissed in the admin: words for the person there (the chat hears
# the intake's own acknowledgement).
POST_DONE = "帖子已处理过了（{status}）。"
POST_MISSING = "没有这条帖子。"
POST_NOT_YOURS = "这条帖子不是您村里的，不能登记。"
POST_NEED_VILLAGE = "私聊的帖子不知道是哪个村的，请先选村。"
POST_BAD_KIND = "请选择类别：村里事、邻里事或户里事。"
POST_REGISTERED = "已登记为 #{n}【{kind}】，负责人和反映人都已收到消息。"
POST_DUPLICATE = "与 #{n} 是同一件事，已并入（共{count}人反映）。"
POST_DISMISSED = "已标为“不是事项”。"
# 分流 by a person: the private card for a post the bot is unsure of (handlers/triage.py).
TRIAGE_CARD = (
    "帖{post}：{name}在{group}说：“{text}”\n像是【{kind}】，机器人拿不准。"
    "是事项请回“登记 帖{post}”（可加类别，如“登记 帖{post} 户里事”），不是请回“不是 帖{post}”。"
)
TRIAGE_BUTTON_REGISTER = "登记 帖{post}"
TRIAGE_BUTTON_DISMISS = "不是 帖{post}"
TRIAGE_TODO_HEADER = "没人处理的拿不准帖子（{count}条，请看看是不是事项）："
TRIAGE_TODO_ITEM = "帖{post} {name}：{text}（{hours}小时前）"

# --- telegram -------------------------------------------------------------------------------
TG_PRIVACY_MODE = (
    "提醒管理员：我在这个群里只能看到命令（如 /claim 12）和回复我的消息，村民直接说的事我看不到、"
    "登记不上。请把我设为本群管理员；或者在 @BotFather 里发 /setprivacy，选中我，再选 Disable，"
    "然后把我移出本群、重新拉进来。"
)
TG_STATE = "【现状】{status}"  # appended to a message whose button was pressed
TG_CUT = "……（太长了，后面的内容请到后台查看）"
# The command menus (setMyCommands) are declared with the commands: handlers/registry.py.

# --- scheduler ------------------------------------------------------------------------------
# Sent by the scheduler (categories reminder, overdue, escalation, todo, digest). These wait out
# the quiet hours and then go as one message per person; replies and notices never wait.
# Held texts may go out hours after they were written: no "still N hours left" in them.
REMIND_UNCLAIMED = (
    "提醒：#{n}【{kind}】{summary} 交给您超过{hours}了，还没有认领。"
    "请回复“认领 {n}”，限 {due} 前办结。"
)
REMIND_DUE = "提醒：#{n}【{kind}】{summary} 快到期了，请在 {due} 前办结。"
OVERDUE_OWNER = (
    "督办：#{n}【{kind}】{summary} 已到期限（{due}）还没办结，请抓紧办，办好回复“办结 {n} 结果”。"
)
OVERDUE_SECRETARY = "督办：#{n}【{kind}】{summary} 已超期（限 {due}），负责人：{owner}。"
ESCALATED_TOWN = (
    "升级到镇：{village} #{n}【{kind}】{summary} 已超期{late}（限 {due}），"
    "负责人：{owner}。请督办。"
)
NO_OWNER = "（无人）"
MERGED_HEADER = "您有{count}条提醒："
MERGED_ITEM = "{i}. {text}"
TODO_HEADER = "今日待办（{count}件，超期的在前）："
TODO_ITEM = "#{n}【{kind}】{summary}，限 {due}{late}"
TODO_LATE = "，已超期{days}天"
TODO_MORE = "……还有{count}件，发“我的”查看全部。"
SPAN_DAYS = "{d}天"
SPAN_HOURS = "{h}小时"
SPAN_MINUTES = "{m}分钟"

DIGEST_TITLE = "{place}说事周报 {year}年第{week}周（{start}—{end}）"
DIGEST_COUNTS = (
    "新增{new}件，办结{closed}件（按期{on_time}件），未办结{open}件，其中超期{overdue}件。"
)
DIGEST_RATES = "办结率{closure}，按期办结率{on_time}。"
DIGEST_BY_KIND = "分类：{items}"
DIGEST_KIND_ITEM = "{kind} 新增{new}/办结{closed}/未办结{open}"
DIGEST_SATISFACTION = (
    "评价：满意{satisfied}，基本满意{fair}，不满意{unsatisfied}，未评价{unrated}。"
)
DIGEST_LEVELS = "办结层级：组{group}，村{village}，镇{town}。"
DIGEST_OVERDUE_HEADER = "超期事项（{count}件）："
DIGEST_OVERDUE_ITEM = "#{n}【{kind}】{summary}｜{owner}，超期{days}天"
DIGEST_REPEAT_HEADER = "重复反映（同群同类、30天内2次以上）："
DIGEST_REPEAT_ITEM = "{group}【{kind}】{summary}：{count}次（{numbers}）"
DIGEST_MORE = "……还有{count}件，请到后台查看。"
RATE_NONE = "—"
TOWN_DIGEST_ROWS = "各村情况："
TOWN_DIGEST_ROW = (
    "{village}：新增{new}｜办结{closed}｜按期{on_time}｜未办结{open}｜超期{overdue}｜"
    "办结率{closure}｜按期率{on_time_rate}｜满意{satisfied}/评价{rated}"
)
TOWN_DIGEST_TOTAL = "全镇"
TOWN_ESCALATED_HEADER = "升级到镇、尚未办结（{count}件）："
TOWN_ESCALATED_ITEM = "{village} #{n}【{kind}】{summary}｜{owner}，超期{days}天"
CHART_SERIES_VILLAGE = ("新增", "办结", "未办结")
CHART_SERIES_TOWN = ("新增", "办结", "超期")
CHART_TITLE = "{place} 第{week}周"
CHART_COUNT = "件数"


# --- words put into the messages above ------------------------------------------------------
# Action names, as the refusals say them ("…才能{action}").
ACT_CLAIM = "认领"
ACT_CLOSE = "办结"
ACT_NOTE = "记进展"
ACT_DUE = "改限期"
ACT_KIND = "改类"
ACT_ASSIGN = "指派"
ACT_REOPEN = "重办"
ACT_WITHDRAW = "撤回"
ACT_LIST_PRIVATELY = "在私聊里看列表"
# Button labels.
BUTTON_CLAIM = "认领"
BUTTON_CLOSE = "办结…"
# Stand-ins where a name or a thing is missing.
UNASSIGNED = "（待指派）"
SOME_VILLAGER = "村民"
THE_REPORTER = "反映人"
PHOTO_OR_VOICE = "图片或语音"
IN_PRIVATE = "私聊"
WHOLE_TOWN = "全镇"
SOME_GRID_MEMBER = "张姐"  # the example name when the village has nobody to assign
# Why a matter was reopened, as its owner is told.
REOPEN_UNSATISFIED = "反映人不满意"
REOPEN_ASKED = "{name}要求重办"
# How to write each command, shown when its number is missing (declared in handlers/registry.py).
COMMAND_EXAMPLES = registry.examples()
REPORT_EXAMPLE = registry.spec("report").example

# --- the admin's kept posts, 拆分 and 合并 (handlers/merging.py) --------------------------------
# 未登记帖子: who may decide a private post.
POST_PRIVATE_LEADERS = "私聊的帖子只有本村书记和镇领导能处理。"
# A report linked to an issue as the same matter, split off into an issue of its own.
SPLIT_NOT_LINKED = "这条反映不在 #{n} 名下，可能已经拆出或合并过了，请刷新页面。"
SPLIT_NOT_YOURS = "#{n} 由{owner}负责，只有负责人、书记或镇领导能把反映拆出来。"
SPLIT_DONE = "已拆成 #{new}【{kind}】，负责人：{owner}；#{old} 现共{count}人反映。"
SPLIT_EVENT_OLD = "{name}的反映另立为 #{n}"  # on the old issue's timeline
SPLIT_EVENT_NEW = "从 #{n} 拆出"  # on the new issue's timeline
OWNER_SPLIT = (
    "{actor}把 #{old} 的一条反映（{name}：{text}）拆成了 #{new} 另行办理，"
    "#{old} 现共{count}人反映。"
)
# Two issues that are one matter: the first is closed into the second.
MERGE_NEEDS_NUMBER = "请写要并入的事项编号，如：12"
MERGE_ONLY_LEADERS = "只有书记和镇领导能合并事项。"
MERGE_SELF = "#{n} 不能并入它自己，请写另一件事的编号。"
MERGE_MISSING = "没有 #{n} 这件事，请核对编号。"
MERGE_OTHER_VILLAGE = "#{n} 是{village}的事，不能和别村的事合并。"
MERGE_TARGET_DONE = "#{n} {status}，只能并入还在办的事项。"
MERGE_SOURCE_DONE = "#{n} {status}，不能再合并。"
MERGE_KIND_DIFFERS = "#{a} 是{kind_a}，#{b} 是{kind_b}，类别不同不能合并。是同一件事请先改类。"
MERGED_RESULT = "已并入 #{n}"  # the merged issue's result
MERGE_EVENT_SOURCE = "并入 #{n}"
MERGE_EVENT_TARGET = "#{n}（{summary}）并入，{count}人反映"
MERGE_DONE = "#{a} 已并入 #{b}，#{b} 现共{count}人反映，已告诉反映人。"
MERGED_REPORTER = (
    "您反映的 #{a} 与 #{b} 是同一件事，已合并到 #{b} 办理，负责人：{owner}，限 {due} 前办结。"
)
OWNER_MERGED_INTO = "{actor}把 #{a}（{summary}）并入了 #{b}，现共{count}人反映，请一并办理。"
OWNER_MERGED_AWAY = "{actor}把 #{a} 并入了 #{b}（负责人：{owner}），#{a} 不用再单独办。"
ACT_SPLIT = "拆分事项"
ACT_MERGE = "合并事项"
# Cadres' actions (issue 17): a reopened matter told to its reporter, a rating button pressed
# while it is being redone, the previous owner of a reassigned matter, 认领 without a number.
REPORTER_REOPENED_PUBLIC = (
    "#{n} 重新办理（{reason}），负责人：{owner}，限 {due} 前办结。办结后再请{reporter}评价。"
)
REPORTER_REOPENED_PRIVATE = (
    "您反映的 #{n}（{summary}）重新办理（{reason}），负责人：{owner}，限 {due} 前办结。"
    "办结后再请您评价。"
)
RATING_REOPENED = "#{n} 正在重新办理，办结后再请您评价。"
OWNER_REASSIGNED_AWAY = "{actor}把 #{n}（{summary}）改派给了{owner}，您不用再办。"
CLAIM_WHICH = "您在本群有{count}件待认领，请写编号：\n{items}\n如：认领 {n}"
CLAIM_WHICH_ITEM = "#{n}【{kind}】{summary}"
# The digest's 办结率 with what it counts (storage.figures.closure_rate).
DIGEST_CLOSURE_OF = "{rate}（本周新增、未撤回的{base}件中已办结{closed}件）"
# 议事 (issue 19): a vote on a 村里事, put to its group; its result at the deadline.
ACT_VOTE = "发起议事"
VOTE_KINDS_ONLY = "议事只用于村里事，#{n} 是{kind}。"
VOTE_NOT_ACTIVE = "#{n} {status}，不能再发起议事。"
VOTE_NO_GROUP = "#{n} 不是在群里反映的，不知道在哪个群议事。"
VOTE_BAD = "请写清议题、选项和期限，如：议事 {n} 修村口路每户出工两天 同意/不同意/弃权 3天"
VOTE_TOO_MANY = "选项最多 {limit} 个，每个不超过 {chars} 个字。"
VOTE_ALREADY = "{group}已有一项议事（#{n}）没结束，{due} 结束后再发起。"
VOTE_DUE_BAD = "议事期限要在 1 小时到 30 天之间，如：3天、明天、12月1日。"
VOTE_OPENED = "已在{group}发起议事 #{n}，{due} 结束。"
VOTE_OPEN = (
    "【议事】#{n} {question}\n{items}\n请直接回复选项的字或编号（如“{first}”或“1”），"
    "每人一票，以最后一次为准；{due} 结束。"
)
VOTE_POLL_QUESTION = "【议事】#{n} {question}（{due} 结束）"
VOTE_ITEM = "{i}. {choice}"
VOTE_RESULT = "【议事结果】#{n} {question}\n{items}\n共{voters}人投票{turnout}。"
VOTE_RESULT_ITEM = "{choice}：{count}票"
VOTE_TIE = "平票：{choices}各{count}票"
VOTE_NO_BALLOTS = "无人投票"
VOTE_TURNOUT = "，本群已知{members}人，参与率{rate}"
VOTE_EVENT_OPENED = "{question}（{choices}，{due} 结束）"
VOTE_EVENT_RESULT = "{items}；共{voters}人投票{turnout}"
# 回访 (issue 19): the owner visits a closed 户里事 or 邻里事 and records it.
ACT_VISIT = "记回访"
VISIT_KINDS_ONLY = "回访只用于户里事和邻里事，#{n} 是{kind}。"
VISIT_NOT_YET = "#{n} 还没办结，办结后再回访。"
VISIT_NEEDS_TEXT = "请写上回访情况，如：回访 {n} 已上门，没再吵"
VISIT_OK = "#{n} 的回访已记下。"
VISIT_DUE = (
    "该回访了：#{n}【{kind}】{summary}（{when}办结，结果：{result}）。上门后回复“回访 {n} 情况”。"
)
VISIT_DUE_UNSATISFIED = (
    "反映人对 #{n}【{kind}】的办理不满意，请今天上门回访，回访后回复“回访 {n} 情况”。"
)
VISIT_TODO_HEADER = "待回访（{count}件）："
VISIT_TODO_ITEM = "#{n}【{kind}】{summary}，应于 {due} 回访"
VISIT_DONE_HEADER = "昨天完成回访（{count}件）："
VISIT_DONE_ITEM = "#{n} {name}：{note}"
DIGEST_VOTES = "本周议事{count}项：{items}"
DIGEST_VOTE_ITEM = "#{n} {question}（{top}，{voters}人投票）"
DIGEST_VISITS = "回访：本周完成{done}件，到期未回访{due}件。"
# 说事码 (issue 19, part 1): the village's QR poster, its phone page and tracking page.
QR_ORIGIN = "说事码"
QR_ANONYMOUS = "扫码村民"
QR_TEAM_TEXT = "{team}：{text}"
QR_PHONE_TEXT = "{text}（联系电话 {phone}）"
QR_CONTACT_NOTE = "{name} {phone}"
QR_POSTER_TITLE = "{village}说事码"
QR_POSTER_STEPS = (
    "1. 用微信或手机相机扫一扫上面的码",
    "2. 写几句话，或者拍张照片、录段语音，说说是什么事",
    "3. 点“提交”，截图保存进展页，随时能查",
)
QR_POSTER_DUTY = "值班干部：{names}"
QR_POSTER_GROUP = "（{group}）"
QR_VILLAGE_UNKNOWN = "没有这个村的说事码，请重新扫码，或者直接找村干部。"
QR_OFF = "{village}的说事码暂停使用了，请在村里的说事群说，或者直接找村干部。"
QR_EMPTY = "请写几句话，或者拍张照片、录段语音，再提交。"
QR_TOO_LONG = "文字太长了（最多{limit}个字），请说主要的事。"
QR_TOO_MANY_PHOTOS = "照片最多{limit}张。"
QR_TOO_BIG = "一次交的东西太大了（合计最多{mb}MB），请少选几张照片或录短一点再交。"
QR_PHOTO_TOO_BIG = "照片太大了（每张最多{mb}MB），请重新拍一张。"
QR_VOICE_TOO_BIG = "录音太长了（最多{mb}MB），请说短一点。"
QR_BAD_PHOTO = "“{name}”不是照片（只收 JPG、PNG、WebP、HEIC）。"
QR_BAD_VOICE = "录音文件打不开（只收常见的手机录音格式）。"
QR_BAD_PHONE = "电话号码不对，请写手机号或座机号，也可以不写。"
QR_LIMIT_ADDRESS = "这台手机（网络）提交得太多了，请过一会儿再试，急事请直接打电话给村干部。"
QR_LIMIT_PHONE = "这个电话号码今天已经反映了{count}件事，请明天再来，急事请直接打电话给村干部。"
QR_RESULT_PRIVATE = "已办结。{kind}的结果不在网页上公开，负责人会当面或打电话告诉您。"
QR_KEPT = "已收到，村干部会看到。这条没有登记成事项；如果是要办的事，请写清楚是什么事、在哪里。"
QR_WAITING = "已收到，正在登记，请稍后刷新。"
# Villagers' groups (issue 18): where a villager lives ("我是三组的", 设组), the 组 → 村 rung.
TEAM_HOME_OK = "记下了：您住{team}。以后您说的事先交给{team}的负责人（小事不出组）。"
TEAM_UNKNOWN = "本村没有“{words}”，有：{teams}。"
TEAM_SET_OK = "记下了：#{n} 的反映人{reporter}住{team}，以后他说的事先交给{team}。"
ACT_SET_TEAM = "设组"
OVERDUE_VILLAGE_POOL = (
    "组里超期：#{n}【{kind}】{summary} 已超期（限 {due}），组里负责人：{owner}。请村里接手或协助。"
)
INVITED_MEDIATOR = "{actor}请您协助调解 #{n}【{kind}】{village}：{text}"
INVITE_OK = "已请{name}协助调解 #{n}。"
INVITE_AGAIN = "已经请过{name}协助调解 #{n}，他那里有这件事，不再重发。"
INVITE_NOT_NEIGHBOUR = "只有邻里事请调解员，#{n} 是{kind}。"
INVITE_UNKNOWN = "没有服务{village}的调解员“{name}”，可请：{names}。"
ACT_INVITE = "邀请调解员"
INVITE_NOTE = "邀请{name}协助调解"
NO_MEDIATOR = "（镇里还没有服务本村的调解员）"
QR_ORIGIN_GROUP = "群里"
QR_ORIGIN_PRIVATE = "私聊"
VISIT_TODO_ITEM_DUE = "应于 {due} 回访"
QR_FORM_BROKEN = "提交的内容不完整或太大，请重新填写后再点“提交”（照片最多3张，录音1段）。"
# To whom a matter was given, when another cadre claims it (认领 of someone else's 待认领).
OWNER_CLAIMED_AWAY = "{actor}认领了 #{n}（{summary}），您不用再办。"
# "我是三组的" told privately by someone never seen in a group, when several villages (or
# none) have that 组 (handlers.teams.told_home).
TEAM_WHICH_VILLAGE = "没能确定“{words}”是哪个村的组。请连村名一起说，如“我是{village}{team}的”。"
# 议事 on a 村里事 the group reads only as a stub (unsure it is not private), started without a
# question: the question is not made of its words (handlers.votes.start).
VOTE_QUESTION_STUB = "这件事怎么办，请大家表决"
