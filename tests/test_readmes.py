"""The READMEs: short, and every file they link to is there."""
import os
import re

import pytest



@pytest.mark.parametrize('readme', ['README.md', 'README.ja.md'])
def test_the_readmes_are_short_and_every_file_they_link_to_is_there(readme):
    from conftest import ROOT
    with open(os.path.join(ROOT, readme)) as f:
        text = f.read()
    lines, fenced, prose = text.split('\n'), False, []
    for line in lines:
        fenced ^= line.startswith('```')
        if not (fenced or line.startswith(('```', '|', '    ', '<'))):
            prose.append(line)
    if readme == 'README.md':  # Japanese has no spaces to break its lines at
        assert len(lines) <= 300 and max(map(len, prose)) <= 200
    links = re.findall(r'\]\(([^)#:]+)[)#]', text) + re.findall(r'<img src="([^"]+)"', text)
    assert 'docs/usage.md' in links and 'figures/README.md' in links
    missing = [link for link in links if not os.path.exists(os.path.join(ROOT, link))]
    assert not missing
