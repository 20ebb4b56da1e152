"""The LaTeX report: escaping (:mod:`.escape`), math layout (:mod:`.mathlayout`), prose
(:mod:`.prose`), the document (:mod:`.document`, preamble in ``preamble.tex``), compiling (:mod:`.compile`).
"""
