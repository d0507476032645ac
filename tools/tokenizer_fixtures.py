#!/usr/bin/env python3
"""Writes the CLIP tokenizer fixtures of tests/test-tokenizer.c into
tests/fixtures/clip-tokenizer/:

  vocab.json, merges.txt  OpenAI's CLIP BPE (the files of openai/clip-vit-large-patch14's
                          tokenizer/ folder), rebuilt from open_clip's bpe_simple_vocab_16e6.txt.gz
                          as OpenAI's SimpleTokenizer builds them: the first 49152-256-2 merges;
                          vocab = 256 byte chars, the same with '</w>', one token per merge,
                          then <|startoftext|> and <|endoftext|>.
  cases.json              >= 1,000 varied strings with transformers' CLIPTokenizer ids
                          (padding="max_length", max_length=77, truncation=True).
  cases-pad-bang.json     a few strings under special_tokens_map.json {"pad_token": "!"}
                          (stable-diffusion-2's OpenCLIP setting, where "!" is a special token).

Cases store the real ids only (BOS .. EOS); the script asserts that transformers padded the
rest with pad_id. It also prints how many cases OpenAI's original tokenizer (open_clip's
SimpleTokenizer: ftfy + html.unescape before lowercasing) tokenizes the same way, since that
cleanup is not what transformers does any more.

Run with the project's virtual environment (transformers, open_clip_torch):
    /work/main/.venv/bin/python tools/tokenizer_fixtures.py
Reads /usr/share/unicode/emoji/emoji-test.txt (Debian unicode-data) for the emoji names.
"""
import gzip
import json
import os
import random
import shutil
import sys
import tempfile
import unicodedata

from open_clip.tokenizer import SimpleTokenizer, bytes_to_unicode, default_bpe
from transformers import CLIPTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "clip-tokenizer")
EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"
MAX_LEN = 77


def write_bpe_files(folder):
    merges = gzip.open(default_bpe()).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408 and len(set(vocab)) == len(vocab)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(a + " " + b + "\n" for a, b in merges))


def emoji_lines():
    """(emoji, name) of every fully-qualified emoji."""
    out = []
    with open(EMOJI_TEST, encoding="utf-8") as f:
        for line in f:
            if "; fully-qualified" not in line:
                continue
            comment = line.split("#", 1)[1].strip()
            emoji, _version, name = comment.split(" ", 2)
            out.append((emoji, name))
    return out


HANDWRITTEN = [
    "", " ", "   \t\n  ", "a", "A", "a photo of a cat", "A Photo Of A CAT",
    "thumbs up: medium skin tone", "woman technologist: dark skin tone",
    "woman’s hat", "Japanese “here” button", "keycap: #", "keycap: *", "A button (blood type)",
    "flag: Côte d’Ivoire", "São Tomé & Príncipe", "piñata", "1st place medal",
    "it's", "It'S", "don't", "DON'T", "we're", "you've", "I'm", "we'll", "he'd", "'s", "'", "''",
    "'sa", "'steve", "!'s", "rock'n'roll", "it’s", "O'Neil's", "'re'll'd", "can't't",
    "<|startoftext|>", "<|endoftext|>", "a<|endoftext|>b", "<|startoftext|>x<|endoftext|>",
    "<|ENDOFTEXT|>", "<|EndOfText|>!!", "!<|endoftext|>", "x<|startoftext|>y", "<|endoftext",
    "<|start of text|>", "<||>", "<|endoftext|><|endoftext|>", "<|endoftext|>" * 90,
    "0", "12345", "3.14159", "1,000,000", "-42", "+1e-10", "0x1F600", "½ ¼ ¾", "x² + y³ = z¹",
    "٣٤٥ ۱۲۳", "१२३", "Ⅻ Ⅳ ⅻ", "①②③", "１２３ＡＢＣ", "𝟘𝟙𝟚", "𝐀𝐁𝐂 𝒶𝒷𝒸",
    "İstanbul", "ΟΔΟΣ Σίσυφος ΣΣ", "ǅemal ǈ ǋ", "STRASSE Straße ẞ", "Ⓐⓑ Ⓩ", "ﬁne ﬂow ﬀ",
    "café", "cafe\u0301", "e\u0301\u0302", "\u0301abc", "n\u0303", "A\u030a ångström Ångström",
    "\u1100\u1161\u11a8", "한국어 텍스트", "日本語のテキスト", "中文文本测试", "カタカナ ﾊﾝｶｸ",
    "Привет, мир!", "Γειά σου Κόσμε", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก",
    "გამარჯობა", "Բարեւ", "ሰላም", "ᚠᚢᚦ", "𐌀𐌁𐌂", "ꙮ", "ⴰⵣⵓⵍ",
    "a\tb\nc\rd\x0be\x0cf", "a\u00a0b", "a\u3000b", "a\u2028b\u2029c", "a\u0085b", "a\u1680b",
    "a\u2000b\u200ac", "a\u202fb\u205fc", "a\u200bb", "a\ufeffb", "a\u180eb", "a\x1cb\x1dc\x1ed\x1ff",
    "a\u200cb\u200dc", "a\x7fb", "a\x01b", "\ufffd", "a\ufffdb", "\U0001f600\ufe0f",
    "...", "!!!", "?!?!", "—–-", "…", "«»", "„“", "()[]{}<>", "@#$%^&*", "~`|\\/", "_-_-_",
    "a.b.c", "e-mail", "hello,world", "C++ and C#", "http://example.com/path?q=1&r=2",
    "user@example.com", "#hashtag @mention", "&amp; &lt;b&gt; &#39;", "100%", "$9.99", "€5 ¥10 £3",
    "😀", "👍🏽", "👩‍💻", "👩🏿‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇺🇸", "#️⃣", "1️⃣0️⃣", "❤️", "☺",
    "🧑🏻‍🤝‍🧑🏿", "👁️‍🗨️", "🫠🫥🫶🏼", "cat🐈dog🐕", "a😀b", "😀😀😀😀😀😀",
    "masterpiece, best quality, ultra-detailed, 8k, (photorealistic:1.4), [lowres], {cute}",
    "a painting of a fox in the style of Studio Ghibli, trending on artstation",
    "A_B_C", "snake_case_name", "CamelCaseWord", "XMLHttpRequest", "iPhone 15 Pro Max",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "supercalifragilisticexpialidocious",
    "zzzzzzzzzzzzzzzzzzzzzz", "qqqqxxxxjjjj", "ababababababababab",
]

LONG_SEEDS = [
    "a highly detailed digital painting of an ancient castle on a cliff at sunset, "
    "dramatic lighting, volumetric clouds, by greg rutkowski and alphonse mucha, "
    "artstation, concept art, smooth, sharp focus, illustration, 8k, octane render",
    "portrait photo of an old fisherman with a weathered face, wearing a knitted hat, "
    "soft natural light, shallow depth of field, 85mm lens, f/1.8, kodak portra 400, "
    "film grain, high resolution, award winning photography",
]

POOLS = {
    "latin": ["photo", "Cat", "DOG", "über", "naïve", "façade", "smörgåsbord", "Ærø", "łódź",
              "Škoda", "Đặng", "İzmir", "ÇAĞ", "ﬁnal", "Øre", "ß", "ẞIG", "ǅ", "Ĳssel"],
    "greek": ["ΑΘΗΝΑ", "λόγος", "ΟΔΟΣ", "Σοφία", "ψυχή"],
    "cyrillic": ["Москва", "ЁЖИК", "щука", "Ґанок", "Ђак"],
    "semitic": ["سلام", "كتاب", "ספר", "עִבְרִית"],
    "indic": ["हिन्दी", "বাংলা", "தமிழ்", "ಕನ್ನಡ", "ગુજરાતી"],
    "se_asian": ["ภาษาไทย", "ລາວ", "ខ្មែរ", "မြန်မာ"],
    "cjk": ["漢字", "東京", "北京", "龍", "𠀋", "ひらがな", "カタカナ", "ﾃｽﾄ", "한글", "조선글"],
    "other_scripts": ["ქართული", "Հայերեն", "አማርኛ", "ᏣᎳᎩ", "ᐃᓄᒃᑎᑐᑦ", "ꦗꦮ", "𐐀𐐨"],
    "digits": ["0", "7", "42", "2024", "3.5", "٤٢", "४२", "４２", "²", "⅓", "Ⅷ", "⑦", "𝟕"],
    "punct": [",", ".", "!", "?", ":", ";", "-", "--", "...", "'", "\"", "’", "“", "”", "«", "»",
              "(", ")", "[", "]", "{", "}", "<", ">", "|", "/", "\\", "@", "#", "$", "%", "^",
              "&", "*", "+", "=", "~", "`", "_", "—", "…", "、", "。", "！", "？", "・", "※"],
    "contractions": ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "’s", "n't"],
    "special": ["<|startoftext|>", "<|endoftext|>", "<|ENDOFTEXT|>", "<|endOfText|>", "<|", "|>"],
    "marks": ["\u0301", "\u0308", "\u0327", "\u0303", "\u20dd", "\u0345"],
    "cased_odd": ["Ⅻ", "Ⓑ", "ǈ", "ᾈ", "ΐ", "İ", "K", "Å", "Ω"],
    "space": [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2009", "\u2028", "\u0085"],
    "invisible": ["\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u2060", "\u180e", "\x1f"],
}


def random_codepoint(rng):
    """A character assigned in Python's Unicode tables (so in every reader's tables), from the
    planes prompts use."""
    while True:
        cp = rng.choice([rng.randrange(0x20, 0x2fff), rng.randrange(0x3000, 0xd7ff),
                         rng.randrange(0xf900, 0xffff), rng.randrange(0x1f000, 0x1faff),
                         rng.randrange(0x10000, 0x2ffff)])
        c = chr(cp)
        if unicodedata.category(c) not in ("Cn", "Cs", "Co", "Cc"):
            return c


def emoji_with_tones(rng, emojis):
    e = rng.choice(emojis)
    r = rng.random()
    if r < 0.3:
        return e + rng.choice("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
    if r < 0.5:
        return e + "\u200d" + rng.choice(emojis)
    return e


def random_mix(rng, emojis):
    parts = []
    for _ in range(rng.randrange(1, 14)):
        kind = rng.choice(list(POOLS) + ["emoji", "codepoint", "ascii"])
        if kind == "emoji":
            parts.append(emoji_with_tones(rng, emojis))
        elif kind == "codepoint":
            parts.append("".join(random_codepoint(rng) for _ in range(rng.randrange(1, 4))))
        elif kind == "ascii":
            parts.append("".join(chr(rng.randrange(0x20, 0x7f)) for _ in range(rng.randrange(1, 8))))
        else:
            parts.append(rng.choice(POOLS[kind]))
        if rng.random() < 0.2:
            parts[-1] = parts[-1].upper() if rng.random() < 0.5 else parts[-1].title()
    sep = rng.choice(["", " ", " ", " ", "  ", ", "])
    return sep.join(parts)


def make_texts():
    rng = random.Random(20240607)
    pairs = emoji_lines()
    emojis = [e for e, _ in pairs]
    texts = list(HANDWRITTEN)
    for e, name in rng.sample(pairs, 320):
        texts.append(name)
    for e, name in rng.sample(pairs, 80):
        texts.append(name.upper() if rng.random() < 0.5 else name.title())
    for _ in range(120):
        texts.append("".join(emoji_with_tones(rng, emojis) for _ in range(rng.randrange(1, 6))))
    for e, name in rng.sample(pairs, 60):
        texts.append(f"an emoji of {name} {e}, flat icon")
    for _ in range(400):
        texts.append(random_mix(rng, emojis))
    for i in range(40):
        seed = LONG_SEEDS[i % 2]
        words = seed.split(" ")
        rng.shuffle(words)
        texts.append(" ".join(words) * (1 + i % 3))
    for _ in range(40):
        texts.append(", ".join(name for _, name in rng.sample(pairs, rng.randrange(8, 30))))
    for _ in range(60):
        texts.append("".join(random_codepoint(rng) for _ in range(rng.randrange(1, 40))))
    return texts


def encode_all(tok, texts):
    cases = []
    for text in texts:
        enc = tok(text, padding="max_length", max_length=MAX_LEN, truncation=True)
        ids, n = enc["input_ids"], sum(enc["attention_mask"])
        assert len(ids) == MAX_LEN and all(i == tok.pad_token_id for i in ids[n:]), text
        cases.append({"text": text, "ids": ids[:n]})
    return cases


def write_cases(path, note, tok, cases):
    """One case a line, so a diff shows which strings changed."""
    head = json.dumps({"note": note, "max_length": MAX_LEN, "pad_id": tok.pad_token_id})
    lines = ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head[:-1] + ', "cases": [\n' + lines + "\n]}\n")


def openai_agreement(cases):
    """How many cases OpenAI's own tokenizer (ftfy + html.unescape, then lowercase) gives the
    same ids for; only printed, not a fixture."""
    simple = SimpleTokenizer()
    same = 0
    for case in cases:
        ids = simple([case["text"]])[0].tolist()
        if ids[:len(case["ids"])] == case["ids"] and not any(ids[len(case["ids"]):]):
            same += 1
    return same


def main():
    os.makedirs(OUT, exist_ok=True)
    write_bpe_files(OUT)
    tok = CLIPTokenizer.from_pretrained(OUT)
    known = tok("a photo of a cat")["input_ids"]
    assert known == [49406, 320, 1125, 539, 320, 2368, 49407], known
    texts = make_texts()
    assert len(set(texts)) >= 1000, len(set(texts))
    texts = list(dict.fromkeys(texts))
    cases = encode_all(tok, texts)
    version = sys.modules["transformers"].__version__
    write_cases(os.path.join(OUT, "cases.json"),
                f"transformers {version} CLIPTokenizer, tools/tokenizer_fixtures.py", tok, cases)

    with tempfile.TemporaryDirectory() as tmp:
        for name in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(OUT, name), tmp)
        with open(os.path.join(tmp, "special_tokens_map.json"), "w") as f:
            json.dump({"pad_token": "!"}, f)
        bang = CLIPTokenizer.from_pretrained(tmp)
        bang_cases = encode_all(bang, ["hi!! x", "!", "a photo of a cat!", "wow!!! <|endoftext|>!",
                                       "!?!", "", "keycap: !"] + texts[:40])
        write_cases(os.path.join(OUT, "cases-pad-bang.json"),
                    f"transformers {version} CLIPTokenizer with special_tokens_map.json "
                    '{"pad_token": "!"}', bang, bang_cases)

    print(f"{len(cases)} cases, {len(bang_cases)} with pad '!'; OpenAI's SimpleTokenizer agrees "
          f"on {openai_agreement(cases)} of {len(cases)}")


if __name__ == "__main__":
    main()
