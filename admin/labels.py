"""The admin's words for stored values (statuses, event kinds, levels), in one place."""

from __future__ import annotations

from handlers.texts import LEVEL_NAMES, STATUS_NAMES

STATUS = {**STATUS_NAMES, "active": "未办结"}
LEVEL = LEVEL_NAMES
EVENT = {
    "created": "登记",
    "assigned": "指派",
    "claimed": "认领",
    "note": "进展",
    "due": "改限期",
    "kind": "改类",
    "closed": "办结",
    "rated": "评价",
    "reopened": "重办",
    "withdrawn": "撤回",
    "escalated": "督办",
    "report": "又有人反映",
    "registered": "后台登记",
    "split": "拆分",
    "merged": "合并",
}
SORT = {"new": "最新登记", "old": "最早登记", "due": "限期最近"}
INBOUND = {
    "unsure": "未登记",
    "registered": "已登记",
    "duplicate": "并入已有事项",
    "chatter": "不是事项",
}
MEDIA = {"photo": "图片", "voice": "语音", "video": "视频", "document": "文件", "location": "位置"}
# 议事 and 回访 (issue 19).
EVENT.update({"vote": "议事", "vote_result": "议事结果", "visit": "回访"})
