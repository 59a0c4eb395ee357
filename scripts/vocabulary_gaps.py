"""The words people ask with that the assistant's vocabulary does not reach, most frequent first.

    .venv/bin/python scripts/vocabulary_gaps.py [QUESTIONS ...] [--log] [--top 60]

QUESTIONS are .jsonl files with a ``question`` field (an eval file, ``park-assistant gaps export --all``) or
plain text, one question a line; ``--log`` reads the questions the server has stored (``PARK_FEEDBACK_DB``).
For each English word no glossary phrase puts into a word of the sources, and each Chinese word the sources
never use (after spoken and Cantonese forms are rewritten), it prints how many questions use it and one of
them. An editor then adds the word to ``index/glossary.tsv`` (English, or a Chinese wording of a sources' term)
or ``index/colloquial.tsv`` (a spoken form, a filler), or names a thing no source covers so that questions
about it are declined — see the README's knowledge-base section. Run ``park-assistant index`` first.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from assistant.config import Settings
from assistant.wiring import build_assistant


def read_questions(path: Path) -> list[str]:
    """The questions of a .jsonl file (``question`` field) or of a text file (one a line)."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        return [str(json.loads(line)["question"]) for line in lines]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="*", type=Path, help=".jsonl or text files of questions")
    parser.add_argument("--log", action="store_true", help="also the questions stored by the server")
    parser.add_argument("--top", type=int, default=60, help="how many words to print (default: 60)")
    args = parser.parse_args()
    settings = Settings.from_env()
    questions = [q for path in args.questions for q in read_questions(path)]
    if args.log:
        from assistant.web.questions import QuestionLog

        questions += [str(row["question"]) for row in QuestionLog(settings.feedback_db).rows()]
    if not questions:
        parser.error("no questions: name a file, or --log")
    query_parser = build_assistant(settings).parser
    counts: Counter[str] = Counter()
    example: dict[str, str] = {}
    for question in questions:
        for word in query_parser.missing_words(question):
            counts[word] += 1
            example.setdefault(word, question)
    print(f"{len(questions)} questions, {len(counts)} words the vocabulary does not reach")
    for word, n in counts.most_common(args.top):
        print(f"{n:4d}  {word:<16}  {example[word][:80]}")


if __name__ == "__main__":
    main()
