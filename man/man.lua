-- d4's docs as man pages (man/meson.build): a NAME section from the
-- "whatis" metadata, the doc's own title (its first level-1 heading)
-- dropped, its sections (##) made the page's (.SH) and subsections (###)
-- .SS; links keep their text.
local title_seen = false

function Header(h)
  if h.level == 1 and not title_seen then
    title_seen = true
    return {}
  end
  if h.level > 1 then
    h.level = h.level - 1
  end
  h.content = pandoc.List(h.content):map(function(i)
    if i.t == 'Str' then return pandoc.Str(pandoc.text.upper(i.text)) end
    return i
  end)
  return h
end

function Link(l)
  return l.content
end

function Pandoc(doc)
  local whatis = pandoc.utils.stringify(doc.meta.whatis or '')
  local head = pandoc.List({pandoc.Header(1, 'NAME'),
                            pandoc.Para(pandoc.Str(whatis))})
  if #doc.blocks > 0 and doc.blocks[1].t ~= 'Header' then
    head:insert(pandoc.Header(1, 'DESCRIPTION'))
  end
  doc.blocks = head .. doc.blocks
  return doc
end
