"""The default templates, stylesheets and French wording of the documents and the site.

They ship inside the package (read with importlib.resources); a cycle may override any of them
with `render.templates` in its config.yaml.
"""
