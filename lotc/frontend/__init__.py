"""The front end: LoT source text in, a checked AST and diagnostics out.

Phases, each its own module: ``source`` (files, notebooks, comments),
``layout`` (indentation and continuation lines), ``parser`` (lark, entity by
entity), ``build_ast`` and ``expressions`` (lark trees to frozen AST nodes),
``checker`` (rules that need more than one node).  ``frontend`` never imports
``codegen``.
"""
