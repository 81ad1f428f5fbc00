"""Instructors' code that contains the answer to a graded question.

Nothing in this subpackage is given to students before the assignment is due: the student
wheel (``make wheel``) leaves each module out, the website does not show it, and the API
page does not document it, until the instructor reveals that assignment's solutions
(``REVEAL`` in ``_config.yml``'s ``rnnkit_reveal`` list, see the README).

Every module here names the assignment whose answer it holds in ``ASSIGNED_IN``;
``MODULES`` below is the map the wheel builder and the site's leak test read. Code outside
this subpackage that uses one of these modules imports it inside ``try``/``except
ImportError`` and falls back to something that is not an answer (autograd, a cell loop).
"""

# module name (in this package) -> the assignment whose answer it contains
MODULES: dict[str, str] = {
    "ch01_closed_loop": "ch01_closed_loop",
    "fast_lstm": "ch04_lstm",
    "fast_gru": "ch06_gru",
    "ch02_bptt": "ch02_bptt",
    "ch03_long_term": "ch03_long_term",
    "ch04_lstm": "ch04_lstm",
    "ch05_coupled_lstm": "ch05_coupled_lstm",
    "ch06_gru": "ch06_gru",
    "ch07_bidirectional": "ch07_bidirectional",
    "ch08_seq2seq": "ch08_seq2seq",
    "ch09_dnc": "ch09_dnc",
    "ch10_language_models": "ch10_language_models",
    "ch12_recursive": "ch12_recursive",
    "ch11_sequence_labelling": "ch11_sequence_labelling",
}
