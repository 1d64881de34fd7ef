// nnlang for VS Code: the grammar, snippets and settings are declarative
// (package.json); this file only starts the nnc language server (`nnc lsp`,
// over standard input/output) when nnc can be found.
'use strict';

const fs = require('fs');
const path = require('path');
const vscode = require('vscode');

let client;

function isExecutableFile(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch (error) {
    return false;
  }
}

// The absolute path of `command`, looked up on the PATH unless it names a file.
function findExecutable(command) {
  if (!command) {
    return undefined;
  }
  const extensions = process.platform === 'win32'
    ? ['', ...(process.env.PATHEXT || '.EXE;.CMD;.BAT;.COM').split(';')]
    : [''];
  if (path.isAbsolute(command) || command.includes('/') || command.includes('\\')) {
    return extensions.map((ext) => command + ext).find(isExecutableFile);
  }
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    const found = extensions.map((ext) => path.join(dir, command + ext)).find(isExecutableFile);
    if (found) {
      return found;
    }
  }
  return undefined;
}

async function activate(context) {
  const config = vscode.workspace.getConfiguration('nnlang');
  if (!config.get('server.enabled', true)) {
    return;
  }
  const output = vscode.window.createOutputChannel('nnlang language server');
  context.subscriptions.push(output);
  const wanted = config.get('server.path', 'nnc');
  const command = findExecutable(wanted);
  if (!command) {
    output.appendLine(`'${wanted}' was not found on the PATH: highlighting and snippets only. ` +
      'Install nnlang (pip install nnlang) or set nnlang.server.path.');
    return;
  }
  let languageclient;
  try {
    languageclient = require('vscode-languageclient/node');
  } catch (error) {
    output.appendLine('vscode-languageclient is not installed (run `npm install --omit=dev` in the ' +
      `extension's folder): highlighting and snippets only. ${error.message}`);
    return;
  }
  const serverOptions = {
    command,
    args: config.get('server.args', ['lsp']),
    transport: languageclient.TransportKind.stdio,
  };
  const clientOptions = {
    documentSelector: [{ scheme: 'file', language: 'nn' }, { scheme: 'untitled', language: 'nn' }],
    outputChannel: output,
  };
  client = new languageclient.LanguageClient('nnlang', 'nnlang language server', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (error) {
    output.appendLine(`could not start ${command} ${serverOptions.args.join(' ')}: ${error.message}`);
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
