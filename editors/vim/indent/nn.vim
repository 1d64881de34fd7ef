" Vim indent file
" Language: nn (nnlang: neural networks described layer by layer)
" One level per open '{' or '(' of the previous line; a line starting with '}'
" or ')' goes back one level.

if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal autoindent
setlocal indentexpr=GetNnIndent()
setlocal indentkeys=0{,0},0),!^F,o,O

let b:undo_indent = 'setlocal autoindent< indentexpr< indentkeys<'

if exists('*GetNnIndent')
  finish
endif

function! s:Code(lnum) abort
  " the line without its comment
  return substitute(getline(a:lnum), '#.*$', '', '')
endfunction

function! GetNnIndent() abort
  let prev = prevnonblank(v:lnum - 1)
  if prev == 0
    return 0
  endif
  let code = s:Code(prev)
  " openers minus closers, not counting the closers that start the line (its
  " own indent already went back for them)
  let opened = len(substitute(code, '[^{(]', '', 'g'))
  let closed = len(substitute(substitute(code, '^\s*[})]*', '', ''), '[^})]', '', 'g'))
  let ind = indent(prev) + shiftwidth() * (opened - closed > 0 ? 1 : opened - closed < 0 ? -1 : 0)
  if getline(v:lnum) =~# '^\s*[})]'
    let ind -= shiftwidth()
  endif
  return max([ind, 0])
endfunction
