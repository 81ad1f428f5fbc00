"""nbgrader configuration for the course (run nbgrader from the repository root)."""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "rnn-course"
c.CourseDirectory.root = os.path.abspath(os.path.dirname(__file__) if "__file__" in dir() else ".")
# Instructors write assignments with solutions and hidden tests in solutions/;
# `make release` strips them into exercises/, which is what students download.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# The gradebook holds student data: it lives in an ignored file, never in git.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

# A stuck cell is interrupted after this many seconds and graded as failed.
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Released notebooks must not carry the instructors' outputs.
c.ClearOutput.enabled = True

# The grader (safegrade, `make autograde`). What the checks trust as they are: the reference
# code and the instructors' answers (a package's name covers all its submodules).
c.Safegrade.trusted_modules = ["rnnkit.reference", "rnnkit.answers"]
# Watched by the checks, and imported before their snapshot whatever a notebook imports first.
c.Safegrade.libraries = ["torch"]
# Imported once per sandbox before it forks a process per submission ("rnnkit.*": all of it).
c.Safegrade.preload = ["numpy", "torch", "matplotlib", "matplotlib.pyplot", "IPython", "rnnkit.*"]
# rnnkit is installed editable from this repository: the sandbox shows its folder, read-only.
c.Safegrade.packages = ["rnnkit"]
# Every assignment's test cells run in a process of their own, where the student's code
# cannot reach the checks (see the README's safety model); none needs the old way.
c.Safegrade.in_process = []

# Feedback (`make feedback`, and the formgrader's feedback button): each score labelled by
# its question, failed tests shown by their message only, without the hidden tests or this
# host's paths, maths rendered offline (MathJax inlined). See safegrade.feedback.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from safegrade.feedback import CleanFeedback, template_basedirs  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, CleanFeedback, CSSHTMLHeaderPreprocessor]
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = template_basedirs()
c.GenerateFeedback.HTMLExporter.template_file = "safegrade.html.j2"
c.GenerateFeedback.HTMLExporter.filters = {"safegrade_mathjax": "safegrade.feedback.mathjax_script"}

# grades.csv (`make grades`, `nbgrader export`): a status per student and assignment
# (graded, missing, ungradable, submitted), empty scores for what was never graded, and
# grades_by_question.csv beside it. See safegrade.grades.
c.ExportApp.plugin_class = "safegrade.grades.StatusCsvExport"
