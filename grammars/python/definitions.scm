; Top-level definitions of a Python module that extractors look at:
; classes (also decorated ones) and module-level assignments.
(module (class_definition) @class)
(module (decorated_definition definition: (class_definition) @class))
(module (expression_statement (assignment) @assignment))
