" .nn files: neural networks described layer by layer (nnlang)
autocmd BufNewFile,BufRead *.nn setfiletype nn
