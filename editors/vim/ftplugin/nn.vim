" Vim filetype plugin
" Language: nn (nnlang: neural networks described layer by layer)

if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

" '#' starts a comment to the end of the line.
setlocal commentstring=#\ %s
setlocal comments=:#
setlocal formatoptions-=t formatoptions+=croql

" Blocks are indented by 4 spaces.
setlocal expandtab
setlocal shiftwidth=4
setlocal softtabstop=4

let b:undo_ftplugin = 'setlocal commentstring< comments< formatoptions< expandtab< shiftwidth< softtabstop<'
