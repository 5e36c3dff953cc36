"""Writes Tests/Golden/Resources/embed/{sentences.txt,expected.json}: an input that exercises every rule of how
`allennlp elmo` (allennlp/commands/elmo.py, `ElmoEmbedder.embed_file`) reads its sentences, and what Python
makes of it: the stripped lines (the keys), their tokens, and the `sentence_to_index` string it stores.

The reading below is embed_file's own: `[line.strip() for line in input_file]` over a file opened in text
mode (universal newlines), `sentence.split()`, and `json.dumps` of the {sentence: str(index)} dict.

Run: python3 Tests/Golden/generate/embed_reference.py   (standard library only)
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Resources", "embed")

# (text, line ending): each line tests one rule; the last has no ending.
LINES = [
    ("the cat sat on the mat .", "\n"),
    ("  a dog  ran\t", "\r\n"),                                    # CRLF; inner runs of spaces kept in the key
    ("the cat sat on the mat .", "\n"),                            # a repeat maps to its last index
    ("na\u00efve caf\u00e9 \u201cquotes\u201d \\ back\\slash \U0001F600\u0085 end", "\r"),  # CR ends a line; U+0085 does not
    ("x\u2028y z", "\n"),                                          # U+2028 is whitespace, not a line end, in a file
    ("\u001cfs\u001fus sep\u001d", "\n"),                          # Python's four extra separators
    ("tab\tsep\u00a0nbsp\u3000ideographic\u2009thin", "\n"),
    ("ctrl \u0001 \u007f del \"q\" \u0008\u000c", "\n"),
    ("e\u0301 combining \u0301mark", "\n"),                        # code points, not graphemes
    ("\ufeffbom first", "\n"),                                     # U+FEFF is not whitespace
    ("a/b : colon", "\n"),
    ("caf\u00e9 au lait", "\n"),                                  # canonically equivalent to the next line,
    ("cafe\u0301 au lait", "\n"),                                 # yet a different key (dict compares code points)
    ("last line without newline", ""),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "sentences.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(text + ending for text, ending in LINES))
    # What embed_file does with it.
    with open(path, encoding="utf-8") as input_file:
        sentences = [line.strip() for line in input_file]
    tokens = [sentence.split() for sentence in sentences]
    sentence_to_index = {}
    for i, sentence in enumerate(sentences):
        sentence_to_index[sentence] = str(i)
    expected = {"sentences": sentences, "tokens": tokens, "sentence_to_index": json.dumps(sentence_to_index)}
    with open(os.path.join(OUT, "expected.json"), "w", encoding="ascii") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"wrote {path} ({len(sentences)} lines) and expected.json")


if __name__ == "__main__":
    main()
