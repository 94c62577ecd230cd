# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Answering questions about a passage
#
# Each record shows a short **passage** from a public-domain book and a **question** about it.
# Read the passage, then say whether it answers the question and write the answer in your own words.
#
# ## How to answer {#answering}
#
# - [R-passage-only] Use only the passage. What you know about the book from elsewhere does not count.
# - [R-short] Write one sentence. Quote at most five words from the passage.

# %% tags=["labelbook:task"]
import labelbook as lb

task = lb.Task(
    name="book-qa-answer",
    fields=[
        lb.TextField("passage", title="Passage", description="A short passage from a public-domain book."),
        lb.TextField("question", title="Question", description="What the passage should answer."),
    ],
    questions=[
        lb.LabelQuestion(
            "answerable",
            title="Does the passage answer the question?",
            labels={
                "yes": "The passage states the answer, or it follows from one sentence of it.",
                "no": "The passage does not say; answering would need knowledge from outside it.",
            },
        ),
        lb.TextQuestion(
            "answer",
            title="Answer",
            description="One sentence; empty when the passage does not say.",
            required=False,
        ),
    ],
    overlap=3,
)
