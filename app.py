#!/usr/bin/env python3
"""regmirror on AWS: `cdk deploy -c env=prod` (or `python app.py -c ...` via CDK_CONTEXT_JSON).

Environments live in infra/environments/<name>.yaml; without `-c env=...` every one is synthesized.
"""

import os

# jsii prints a banner about Node 20's end of life on every start; it is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from infra.app_builder import build_app

build_app().synth()
