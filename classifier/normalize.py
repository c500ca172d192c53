"""Text → features for the post classifier, the same at training and at run time.

Normalisation makes posts written in different styles look alike before features are taken:
full-width → half-width (NFKC), traditional → simplified for common characters (a small table,
no dictionary download), a few dialect function words → Mandarin (俺/𠊎/阮 → 我, 冇 → 没 …),
digits collapsed to 0, every emoji to one symbol, WeChat emoticons ([捂脸], [抱拳]) to one symbol,
runs of punctuation to one mark (`normalize`; duplicate detection reads the same text).

The model then sees the post's content only (`view`): emoji and emoticons removed (decoration,
not a sign of chatter), a greeting at the start (大家好, 打扰一下 …) and thanks at the end
(谢谢, 辛苦了, 麻烦了 …) removed when words remain, every run of digits and Latin letters one
neutral token "0" (addresses, dates, amounts, house numbers and phone numbers look alike and
the token itself carries no weight). Features are the character n-grams (1–3) of that text with
start/end markers (`grams`) and cue-word categories (`cues`); no length feature. Each post is
the set of its n-grams, weighted 1/sqrt(number of distinct known n-grams).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Traditional → simplified, the characters villagers' posts actually use (pairs: trad, simp).
_T2S_PAIRS = (
    "這这個个們们來来時时說说會会對对過过還还沒没為为麼么嗎吗發发後后裡里裏里覺觉電电燈灯壞坏"
    "橋桥車车門门開开關关問问題题間间聽听見见長长東东頭头邊边實实點点樣样種种錢钱報报讓让給给"
    "請请謝谢進进現现從从裝装帶带場场處处應应該该將将當当經经歲岁買买賣卖農农業业區区鄉乡鎮镇"
    "縣县幹干幫帮辦办醫医療疗險险補补貼贴優优養养親亲愛爱孫孙兒儿婦妇媽妈爺爷層层樓楼牆墙廁厕"
    "衛卫變变壓压線线網网絡络號号碼码聯联繫系係系結结離离證证護护費费價价漲涨錯错誤误認认識识"
    "讀读書书學学師师園园組组隊队塊块溝沟澆浇漁渔魚鱼雞鸡鴨鸭鵝鹅豬猪馬马貓猫蟲虫樹树葉叶麥麦"
    "穀谷糧粮飯饭麵面湯汤氣气風风雲云災灾難难願愿歡欢樂乐慶庆節节陽阳陰阴鬧闹罵骂爭争糾纠紛纷"
    "調调協协議议務务計计劃划設设備备廠厂礦矿廢废產产資资財财帳账賬账償偿徵征畝亩舊旧傷伤殘残"
    "獨独單单雙双戶户遷迁員员黨党領领導导記记鄰邻據据話话講讲謂谓訴诉喚唤聲声響响臺台檯台機机"
    "腦脑轉转條条張张隻只於于與与專专極极標标準准統统總总體体權权規规則则驗验確确滿满適适態态"
    "勢势質质雜杂亂乱髒脏髮发臉脸腳脚罷罢擺摆擋挡擔担攔拦搶抢掃扫換换撿捡揀拣擠挤擴扩擾扰撥拨"
    "勞劳動动勸劝環环獎奖牽牵燒烧煙烟熱热爐炉爛烂營营團团圍围圖图國国際际陸陆陳陈劉刘趙赵鄭郑"
    "馮冯蔣蒋韓韩楊杨許许呂吕蕭萧鄧邓蘇苏譚谭盧卢龍龙羅罗鍾钟黃黄吳吴華华閒闲閉闭闖闯聞闻陣阵"
    "隨随隱隐靜静韋韦頁页頂顶項项順顺須须預预頻频顧顾額额顯显飛飞飲饮飽饱館馆駕驾魯鲁鳥鸟鳴鸣"
    "齊齐齒齿歷历歸归殺杀毀毁決决況况減减溫温測测濕湿灣湾無无煩烦獲获畫画盡尽盤盘礙碍禮礼禍祸"
    "稅税穩稳窮穷競竞筆笔範范築筑簡简類类緊紧細细終终絕绝絲丝綁绑綠绿維维練练縫缝績绩織织繩绳"
    "續续罰罚義义習习聖圣聰聪職职肅肃腫肿膽胆興兴舉举艱艰藥药虧亏蝦虾製制複复觀观訂订討讨訓训"
    "託托訪访診诊評评詢询試试誠诚誰谁課课談谈諒谅論论謊谎豐丰貝贝負负貨货販贩貧贫責责貴贵賠赔"
    "賴赖趕赶躍跃軍军軟软較较載载輕轻輛辆輪轮輸输這这連连週周遊游運运達达違违遠远遲迟選选遺遗"
    "釋释針针鈔钞鈴铃銀银銷销鋪铺鋼钢錄录鍋锅鎖锁鐘钟鐵铁閘闸闊阔電电靈灵餓饿餘余騙骗驚惊鬥斗"
    "鮮鲜鹽盐齡龄佔占傳传僅仅儀仪億亿兩两冊册凍冻剛刚創创劑剂勁劲勵励匯汇協协卻却厲厉參参叢丛"
    "啟启喪丧喬乔嚴严噸吨嚇吓囑嘱圓圆執执堅坚塗涂塵尘墳坟壩坝壯壮夠够夢梦夥伙奮奋寧宁寫写寬宽"
    "寶宝尋寻屆届屍尸屬属嶺岭幣币帥帅廣广廳厅彎弯彈弹復复憂忧懷怀慣惯憑凭懶懒戰战戲戏拋抛掛挂"
    "採采揚扬損损搖摇擁拥擊击擇择擬拟攤摊敗败數数斷断昇升曬晒暫暂曆历構构樁桩槍枪橫横檢检櫃柜"
    "歐欧殼壳毆殴滅灭滯滞漢汉潔洁澤泽濟济濃浓灑洒灘滩烏乌煉炼犧牺狀状畢毕異异瘋疯瘡疮盜盗盞盏"
    "監监眾众睏困磚砖祕秘積积窩窝竊窃純纯紙纸級级紅红約约納纳紡纺紮扎紹绍綜综緒绪編编緣缘縮缩"
    "繳缴纏缠罈坛聲声腎肾腸肠膚肤臟脏臨临莊庄萬万著着蓋盖蔥葱薦荐藍蓝蘭兰衝冲襪袜視视覽览觸触"
    "訊讯詐诈詳详誇夸語语諮咨譽誉讚赞豎竖賓宾賞赏賤贱購购賽赛贈赠贏赢趨趋跡迹踐践蹤踪軌轨輔辅"
    "輩辈辭辞邁迈醜丑鉤钩錶表鍵键鏡镜閃闪閱阅闆板雖虽霧雾頓顿頒颁頸颈顏颜颱台飄飘餅饼餵喂驅驱"
    "驢驴鬆松鳳凤鴿鸽麗丽龜龟孩孩釘钉鋤锄犁犁堆堆壟垄垃垃圾圾溢溢淹淹灌灌漏漏滲渗洩泄塌塌陷陷"
    "龍龙屆届陝陕鬍胡糰团塊块隔隔壁壁鄰邻舍舍厝厝兇凶惡恶鎖锁鑰钥匙匙瓦瓦磚砖漆漆賺赚貸贷帳账"
    "啲啲嘅嘅喺喺咗咗冇冇佢佢睇睇嘢嘢唔唔俾俾搵找噉噉哋哋攞攞嚟嚟咁咁乜乜嘥嘥瞓瞓幾几邨村癡痴緻致囉啰衆众"
)
T2S: dict[str, str] = {
    _T2S_PAIRS[i]: _T2S_PAIRS[i + 1]
    for i in range(0, len(_T2S_PAIRS) - 1, 2)
    if _T2S_PAIRS[i] != _T2S_PAIRS[i + 1]
}

# Dialect function words → Mandarin (applied after T2S). Longest first.
_DIALECT = (
    ("啥辰光", "什么时候"),
    ("而家", "现在"),
    ("点样", "怎样"),
    ("隔篱", "隔壁"),
    ("厝边", "邻居"),
    ("囝仔", "孩子"),
    ("细人仔", "孩子"),
    ("伊拉", "他们"),
    ("阿拉", "我们"),
    ("额们", "我们"),
    ("额家", "我家"),
    ("额屋", "我屋"),
    ("俺们", "我们"),
    ("咱们", "我们"),
    ("屋企", "家里"),
    ("屋头", "家里"),
    ("屋里", "家里"),
    ("搿", "这"),
    ("伲", "我们"),
    ("俺", "我"),
    ("𠊎", "我"),
    ("阮", "我"),
    ("侬", "你"),
    ("伊", "他"),
    ("侪", "都"),
    ("厝", "家"),
    ("尪", "丈夫"),
    ("嗰", "那"),
    ("畀", "给"),
    ("嚟", "来"),
    ("乜", "什么"),
    ("恁", "你"),
    ("佢", "他"),
    ("冇", "没"),
    ("嘅", "的"),
    ("喺", "在"),
    ("咗", "了"),
    ("啲", "些"),
    ("睇", "看"),
    ("唔", "不"),
    ("勿", "不"),
    ("哋", "们"),
    ("毋", "不"),
    ("嘞", "了"),
    ("咧", "了"),
    ("哒", "了"),
)
_DIALECT_RE = re.compile("|".join(re.escape(a) for a, _ in _DIALECT))
_DIALECT_MAP = dict(_DIALECT)

EMOJI = "☺"  # every emoji becomes this one symbol
EMOTICON = "◎"  # every WeChat emoticon ([捂脸], [抱拳] …) becomes this one symbol
_EMOTICON_RE = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,4}\]")
_EMOJI_RE = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2190-\u21ff\u2300-\u23ff]+"
)
_REPEAT_RE = re.compile("([☺◎0])\\1+")
_SPACE_RE = re.compile(r"\s+")
# Punctuation is style, not content: it becomes a space (n-grams do not cross it).
_PUNCT_RE = re.compile(r"[^\w☺◎]+")

_TABLE: dict[int, str | None] = {ord(k): v for k, v in T2S.items()}
_TABLE.update({ord(k): v for k, v in {"。": ".", "、": ",", "…": ".", "—": "-", "·": "."}.items()})
_TABLE.update({ord(str(d)): "0" for d in range(10)})
_TABLE.update({0xFE0F: None, 0xFE0E: None, 0x200D: None, 0x20E3: None})


@lru_cache(maxsize=256)
def normalize(text: str) -> str:
    """The text as the features see it (see the module docstring). Kept for a while: the
    classifier and duplicate detection both read each new post."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    t = text.lower().translate(_TABLE)
    t = _EMOTICON_RE.sub(EMOTICON, t)
    t = _EMOJI_RE.sub(EMOJI, t)
    t = _DIALECT_RE.sub(lambda m: _DIALECT_MAP[m.group(0)], t)
    t = _REPEAT_RE.sub(r"\1", t)
    return _PUNCT_RE.sub(" ", t).strip()


MAX_CHARS = 600  # a story longer than this is read by its first 600 characters
NEUTRAL = "0"  # digits and Latin letters: a token of its own, never a feature by itself

# A greeting or an apology for disturbing at the start, thanks at the end: politeness, not a
# sign that the post is chatter (normalised text: punctuation is a space, emoji are removed).
_GREETING_RE = re.compile(
    r"^(?:(?:大家|各位|诸位|书记|主任|村长|支书|组长|网格员|队长|老师|领导|乡亲们|家人们|"
    r"亲们|叔叔阿姨|你|您)们?好[啊呀哦]?|(?:早上|上午|中午|下午|晚上)好|早安|早(?= )|"
    r"(?:打扰|叨扰)(?:一下|下|了)?|不好意思(?:打扰)?[了啊]?|在吗|在不在|有人在吗|哈喽|"
    r"hello|hi(?= ))[ ]*"
)
_THANKS_RE = re.compile(
    r"[ ]*(?:(?:先|提前)?(?:谢谢|多谢|感谢|谢)"
    r"(?:你|您|大家|书记|主任|村长|领导|各位|干部|啦|了|哈|啊)*|"
    r"(?:辛苦|麻烦|拜托)(?:你|您|大家|各位|书记|主任|村长|领导|干部)?(?:了|啦|啊|哈)?)$"
)
_DECOR_RE = re.compile("[☺◎]+")
_LATIN_RE = re.compile(r"[a-z0]+")
_MIN_LEFT = 3  # characters that must remain for wrapping to be removed


def unwrap(norm: str) -> str:
    """A normalised text without emoji, leading greetings and trailing thanks (each removed only
    while at least a few characters remain)."""
    t = _SPACE_RE.sub(" ", _DECOR_RE.sub(" ", norm)).strip()
    while True:
        m = _GREETING_RE.match(t)
        if not m or not m.end() or len(t) - m.end() < _MIN_LEFT:
            break
        t = t[m.end() :].lstrip()
    while True:
        m = _THANKS_RE.search(t)
        if not m or m.start() < _MIN_LEFT or m.start() == len(t):
            break
        t = t[: m.start()].rstrip()
    return t


def view(norm: str) -> tuple[str, set[str]]:
    """What the model reads of a normalised text: the text its n-grams are taken from (see the
    module docstring) and its cue features."""
    t = unwrap(norm[:MAX_CHARS])
    found = cues(t)
    core = _LATIN_RE.sub(NEUTRAL, t)
    if not core.replace(NEUTRAL, "").replace(" ", ""):
        found.add("\x01nowords")
    return core, found


def grams(core: str, max_n: int = 3, min_n: int = 1) -> set[str]:
    """The n-gram features of a text as `view` gives it: the character n-grams (1…max_n) of each
    of its space-separated pieces (the neutral token alone excepted), and the post's start
    (\\x02) and end (\\x03) joined to its first and last characters."""
    out: set[str] = set()
    if not core:
        return out
    for piece in core.split(" "):
        for n in range(min_n, max_n + 1):
            out.update([piece[i : i + n] for i in range(len(piece) - n + 1)])
    out.add("\x02" + core[: max_n - 1])
    out.add(core[1 - max_n :] + "\x03")
    out.discard(NEUTRAL)
    return out


# Cue words: what a post does (reports a problem, asks for help, argues with a neighbour, thanks,
# announces, advertises), in the normalised (simplified) form. They are style-independent
# meaning that character n-grams of one writer's style would not carry over to another's; each
# category present becomes one feature (and one more when it occurs twice or more).
CUES: dict[str, tuple[str, ...]] = {
    "problem": (
        "坏",
        "不亮",
        "漏",
        "塌",
        "堵",
        "断",
        "裂",
        "积水",
        "淹",
        "停水",
        "停电",
        "没水",
        "没电",
        "臭",
        "脏",
        "隐患",
        "危险",
        "安全",
        "倒了",
        "破",
        "烂",
        "缺",
        "被盗",
        "偷",
        "咬",
        "受伤",
        "摔",
        "跌",
        "坑",
        "污水",
        "噪",
        "不通",
        "无法",
        "困难",
        "没人管",
        "无人",
        "至今",
        "一直",
        "多次",
        "好几天",
        "几天了",
        "半个月",
        "不到位",
        "不合理",
        "不公",
        "没有人",
        "出不去",
    ),
    "request": (
        "请",
        "麻烦",
        "帮",
        "希望",
        "建议",
        "要求",
        "恳请",
        "盼",
        "能不能",
        "能否",
        "可不可以",
        "可以不",
        "怎么办",
        "咋办",
        "咋整",
        "怎么弄",
        "怎么搞",
        "求",
        "解决",
        "处理",
        "管管",
        "协调",
        "调解",
        "核查",
        "尽快",
        "赶紧",
        "督促",
        "落实",
        "给个说法",
        "主持公道",
    ),
    "report": (
        "反映",
        "投诉",
        "举报",
        "上报",
        "报修",
        "来电",
        "咨询",
        "请问",
        "问下",
        "问一下",
        "想问",
        "问问",
    ),
    "dispute": (
        "邻居",
        "隔壁",
        "对门",
        "他家",
        "她家",
        "两家",
        "双方",
        "纠纷",
        "争",
        "吵架",
        "打架",
        "骂",
        "占",
        "不让",
        "赔",
        "欺负",
        "地界",
        "边界",
        "宅基地",
        "过道",
        "挡",
        "砌墙",
        "遮",
        "排到",
        "流到",
        "跑到我",
        "吃了我",
        "霸",
        "不讲理",
        "矛盾",
        "闹",
        "调解",
        "调处",
        "同村村民",
        "同组村民",
        "对方",
        "两组",
        "两户",
        "一户",
        "欠",
        "赊",
        "催讨",
        "拒不",
        "拒绝",
        "不还",
        "退还",
        "赔偿",
        "争执",
        "口角",
        "纠纷",
        "借了我",
        "借我",
    ),
    "own": (
        "我家",
        "我妈",
        "我爸",
        "老伴",
        "儿子",
        "女儿",
        "孙",
        "本人",
        "我一个人",
        "家里",
        "独居",
        "低保",
        "残疾",
        "补助",
        "养老",
        "赡养",
        "离婚",
        "证明",
        "户口",
        "危房",
        "医保",
        "住院",
        "生病",
        "看病",
        "我老",
        "我今年",
        "我父",
        "我母",
        "媳妇",
        "丈夫",
        "我男人",
        "孩子",
    ),
    "public": (
        "村里",
        "全村",
        "大家",
        "村民",
        "集体",
        "公共",
        "组里",
        "我们组",
        "全组",
        "村口",
        "路灯",
        "道路",
        "村道",
        "桥",
        "水渠",
        "自来水",
        "供水",
        "电线",
        "变压器",
        "学校",
        "校车",
        "公厕",
        "广场",
        "河道",
        "好几家",
        "多户",
        "各家",
        "户村民",
        "群众",
        "垃圾",
        "下水道",
        "井盖",
    ),
    "chatter": (
        "收到",
        "好的",
        "谢谢",
        "感谢",
        "多谢",
        "辛苦",
        "点赞",
        "早上好",
        "晚安",
        "快乐",
        "恭喜",
        "祝",
        "哈哈",
        "知道了",
        "明白",
        "同意",
        "赞成",
        "ok",
        "好嘞",
        "中中",
        "可以可以",
        "晓得",
        "要得",
        "表扬",
        "致谢",
        "满意",
        "称赞",
        "感动",
        "点个赞",
        "好人",
    ),
    "notice": (
        "通知",
        "公告",
        "请各",
        "请大家",
        "各位村民",
        "届时",
        "携带",
        "身份证",
        "报名",
        "截止",
        "地点",
        "相互转告",
        "特此",
        "敬请",
        "村委会",
        "提醒",
        "注意",
        "务必",
        "按时",
    ),
    "fixed": (
        "修好了",
        "已经修",
        "解决了",
        "已解决",
        "搞定",
        "换好了",
        "通了",
        "恢复",
        "已处理",
        "办好了",
        "完毕",
        "调解成功",
        "握手言和",
        "说开了",
        "已经好了",
        "处理好了",
        "办结",
    ),
    "ad": (
        "优惠",
        "折",
        "特价",
        "加微信",
        "扫码",
        "领取",
        "点击",
        "链接",
        "转发",
        "中奖",
        "免费领",
        "代办",
        "贷款",
        "专业",
        "批发",
        "出售",
        "上门服务",
        "欢迎",
        "开业",
        "厂家",
        "直销",
    ),
}
_CUE_OF: dict[str, tuple[str, ...]] = {}
for _name, _words in CUES.items():
    for _w in _words:
        _CUE_OF[_w] = (*_CUE_OF.get(_w, ()), _name)
_CUE_RE = re.compile("|".join(map(re.escape, sorted(_CUE_OF, key=len, reverse=True))))
_PARTY_RE = re.compile(r"[\u4e00-\u9fff]某(?![些种个天年月日处地项])|某某")


def cues(norm: str) -> set[str]:
    """The cue categories present in a normalised text (a category found twice or more adds a
    second feature; a word matched inside a longer cue word counts for the longer one)."""
    out: set[str] = set()
    if "某" in norm and _PARTY_RE.search(norm):
        out.add("\x01party")
    seen: set[str] = set()
    for word in _CUE_RE.findall(norm):
        for name in _CUE_OF[word]:
            if name in seen:
                out.add(f"\x01{name}+")
            else:
                seen.add(name)
                out.add(f"\x01{name}")
    return out
