// Shell completion scripts for bash, zsh and fish, generated from the
// commander definitions of the commands themselves: every command, its
// aliases, its options (with their choices, and files or folders where
// they take one) and its arguments (.pipe files where it takes a program).
// A command or option added to the CLI is completed without touching this
// file; only what a definition cannot say is here: which file extension an
// option's file has, and that schedule names complete from the built-ins.

import type { Argument, Command, Option } from 'commander';
import { builtinScheduleNames } from '../compiler/index.ts';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export type ValueKind =
  | { readonly kind: 'none' }
  | { readonly kind: 'words'; readonly words: readonly string[] }
  | { readonly kind: 'files'; readonly extension?: string }
  | { readonly kind: 'folders' };

export interface OptionSpec {
  readonly short?: string;
  readonly long?: string;
  readonly description: string;
  /** Undefined for a flag; what its value completes to otherwise. */
  readonly value?: ValueKind;
}

export interface CommandSpec {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly description: string;
  readonly options: readonly OptionSpec[];
  /** What the positional arguments complete to, and whether there can be several. */
  readonly argument?: { readonly value: ValueKind; readonly variadic: boolean };
}

/** The file type of an option's file, where its name says it. */
const OPTION_FILE_EXTENSION: Readonly<Record<string, string>> = { '--costs': 'json', '--torch-csv': 'csv' };

function scheduleNames(): ValueKind {
  return { kind: 'words', words: [...builtinScheduleNames(), 'auto'] };
}

/** What a value named `<name>` completes to. */
function valueOf(name: string, choices: readonly string[] | undefined, option?: string): ValueKind {
  if (choices !== undefined && choices.length > 0) return { kind: 'words', words: choices };
  if (option === '--schedule') return scheduleNames();
  if (/^(file|files|out)$/i.test(name)) return { kind: 'files', extension: option === undefined ? 'pipe' : OPTION_FILE_EXTENSION[option] };
  if (/^(dir|dirs|folder)$/i.test(name)) return { kind: 'folders' };
  return { kind: 'none' };
}

function optionSpec(option: Option): OptionSpec {
  const name = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  return {
    short: option.short,
    long: option.long,
    description: option.description,
    value: option.required || option.optional ? valueOf(name ?? '', option.argChoices, option.long) : undefined,
  };
}

function argumentSpec(command: Command, argument: Argument): CommandSpec['argument'] {
  const value = command.name() === 'schedule' && argument.name() === 'name' ? scheduleNames() : valueOf(argument.name(), argument.argChoices);
  return { value, variadic: argument.variadic };
}

const HELP: OptionSpec = { short: '-h', long: '--help', description: 'display help for command' };

/** The completion model of a program: its commands as the definitions declare them. */
export function completionModel(program: Command): { readonly commands: readonly CommandSpec[]; readonly rootOptions: readonly OptionSpec[] } {
  const commands = program.commands.map((command): CommandSpec => {
    const [argument] = command.registeredArguments;
    return {
      name: command.name(),
      aliases: command.aliases(),
      description: command.description(),
      options: [...command.options.filter((option) => !option.hidden).map(optionSpec), HELP],
      argument: argument === undefined ? undefined : argumentSpec(command, argument),
    };
  });
  const rootOptions = [...program.options.map(optionSpec), HELP];
  return { commands, rootOptions };
}

export function completionScript(shell: Shell, program: Command): string {
  const model = completionModel(program);
  const name = program.name();
  return shell === 'bash' ? bashScript(name, model) : shell === 'zsh' ? zshScript(name, model) : fishScript(name, model);
}

type Model = ReturnType<typeof completionModel>;

function flagsOf(option: OptionSpec): string[] {
  return [option.short, option.long].filter((flag): flag is string => flag !== undefined);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

// ---- bash ----------------------------------------------------------------

function bashValue(value: ValueKind): string {
  switch (value.kind) {
    case 'words':
      return `COMPREPLY=($(compgen -W ${bashQuote(value.words.join(' '))} -- "$cur"))`;
    case 'files':
      return value.extension === undefined ? '_pipec_files' : `_pipec_files ${value.extension}`;
    case 'folders':
      return 'COMPREPLY=($(compgen -d -- "$cur"))';
    case 'none':
      return 'COMPREPLY=()';
  }
}

function bashQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function bashScript(name: string, model: Model): string {
  const commandNames = model.commands.flatMap((command) => [command.name, ...command.aliases]);
  const cases = model.commands.map((command) => {
    const valued = command.options.filter((option) => option.value !== undefined);
    const previous = valued.map((option) => `        ${flagsOf(option).join('|')}) ${bashValue(option.value!)}; return ;;`);
    const words = command.options.flatMap(flagsOf).join(' ');
    return [
      `    ${[command.name, ...command.aliases].join('|')})`,
      ...(previous.length > 0 ? ['      case "$prev" in', ...previous, '      esac'] : []),
      `      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W ${bashQuote(words)} -- "$cur")); return; fi`,
      `      ${command.argument === undefined ? 'COMPREPLY=()' : bashValue(command.argument.value)}`,
      '      ;;',
    ].join('\n');
  });
  return `# bash completion for ${name}, generated by \`${name} completion bash\` from its command definitions.
# Install: ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
#      or: source <(${name} completion bash)   (in ~/.bashrc)

# Files with extension $1 (all files without one), and folders to descend into.
_pipec_files() {
  local IFS=$'\\n'
  if [[ -n "$1" ]]; then
    COMPREPLY=($(compgen -f -X "!*.$1" -- "$cur") $(compgen -d -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}

_pipec() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" command="" i
  # The command is the first word after ${name} that is not an option (the program's own options take no value).
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ "\${COMP_WORDS[i]}" != -* ]]; then command="\${COMP_WORDS[i]}"; break; fi
  done
  case "$command" in
    "")
      COMPREPLY=($(compgen -W ${bashQuote([...commandNames, ...model.rootOptions.flatMap(flagsOf)].join(' '))} -- "$cur"))
      ;;
${cases.join('\n')}
  esac
}

complete -o filenames -o bashdefault -F _pipec ${name}
`;
}

// ---- zsh -----------------------------------------------------------------

/** Text inside an _arguments spec: brackets and colons escaped, in single quotes. */
function zshSpecText(text: string): string {
  return firstLine(text).replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1').replace(/'/g, `'\\''`);
}

function zshValue(value: ValueKind, label: string): string {
  switch (value.kind) {
    case 'words':
      return `:${label}:(${value.words.join(' ')})`;
    case 'files':
      return value.extension === undefined ? `:${label}:_files` : `:${label}:_files -g "*.${value.extension}"`;
    case 'folders':
      return `:${label}:_files -/`;
    case 'none':
      return `:${label}: `;
  }
}

function zshOption(option: OptionSpec): string {
  const flags = flagsOf(option);
  const description = `[${zshSpecText(option.description)}]`;
  const value = option.value === undefined ? '' : zshValue(option.value, (option.long ?? option.short ?? 'value').replace(/^-+/, ''));
  const takes = option.value !== undefined && option.long !== undefined ? '=' : '';
  if (flags.length === 1) return `'${flags[0]}${takes}${description}${value}'`;
  // Either spelling excludes the other: (-o --output){-o,--output=}'[...]...'
  return `'(${flags.join(' ')})'{${option.short},${option.long}${takes}}'${description}${value}'`;
}

function zshScript(name: string, model: Model): string {
  const described = model.commands.flatMap((command) =>
    [command.name, ...command.aliases].map((word) => `    '${word}:${zshSpecText(command.description)}'`),
  );
  const cases = model.commands.map((command) => {
    const specs = command.options.map(zshOption);
    if (command.argument !== undefined) {
      const { value, variadic } = command.argument;
      specs.push(`'${variadic ? '*' : '1'}${zshValue(value, value.kind === 'files' ? 'file' : 'argument').replace(/'/g, `'\\''`)}'`);
    }
    return `    (${[command.name, ...command.aliases].join('|')})\n      _arguments -s \\\n        ${specs.join(' \\\n        ')}\n      ;;`;
  });
  return `#compdef ${name}
# zsh completion for ${name}, generated by \`${name} completion zsh\` from its command definitions.
# Install: ${name} completion zsh > "\${fpath[1]}/_${name}"   (then restart zsh)
#      or: source <(${name} completion zsh)   (in ~/.zshrc, after compinit)

_${name}() {
  local -a commands
  commands=(
${described.join('\n')}
  )
  if (( CURRENT == 2 )); then
    if [[ "\${words[2]}" == -* ]]; then
      _arguments ${model.rootOptions.map(zshOption).join(' ')}
    else
      _describe -t commands '${name} command' commands
    fi
    return
  fi
  local command="\${words[2]}"
  shift words
  (( CURRENT-- ))
  case "$command" in
${cases.join('\n')}
  esac
}

if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _${name} "$@"
else
  compdef _${name} ${name}
fi
`;
}

// ---- fish ----------------------------------------------------------------

function fishQuote(text: string): string {
  return `'${firstLine(text).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fishValue(value: ValueKind): string {
  switch (value.kind) {
    case 'words':
      return `-x -a ${fishQuote(value.words.join(' '))}`;
    case 'files':
      return value.extension === undefined ? '-r -F' : `-x -a '(__fish_complete_suffix .${value.extension})'`;
    case 'folders':
      return "-x -a '(__fish_complete_directories)'";
    case 'none':
      return '-x';
  }
}

function fishScript(name: string, model: Model): string {
  const lines = [
    `# fish completion for ${name}, generated by \`${name} completion fish\` from its command definitions.`,
    `# Install: ${name} completion fish > ~/.config/fish/completions/${name}.fish`,
    '',
    `complete -c ${name} -f`,
  ];
  for (const option of model.rootOptions) {
    lines.push(`complete -c ${name} -n '__fish_use_subcommand' ${fishFlags(option)} -d ${fishQuote(option.description)}`);
  }
  for (const command of model.commands) {
    for (const word of [command.name, ...command.aliases]) {
      lines.push(`complete -c ${name} -n '__fish_use_subcommand' -a ${word} -d ${fishQuote(command.description)}`);
    }
    const when = `-n '__fish_seen_subcommand_from ${[command.name, ...command.aliases].join(' ')}'`;
    for (const option of command.options) {
      const value = option.value === undefined ? '' : ` ${fishValue(option.value)}`;
      lines.push(`complete -c ${name} ${when} ${fishFlags(option)}${value} -d ${fishQuote(option.description)}`);
    }
    if (command.argument !== undefined && command.argument.value.kind !== 'none') {
      lines.push(`complete -c ${name} ${when} ${fishValue(command.argument.value).replace(/^-r -F$/, '-F')}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

function fishFlags(option: OptionSpec): string {
  const parts: string[] = [];
  // fish's -s takes one letter; -o takes an old-style long option such as -p.
  if (option.short !== undefined) parts.push(`-s ${option.short.replace(/^-/, '')}`);
  if (option.long !== undefined) parts.push(`-l ${option.long.replace(/^--/, '')}`);
  return parts.join(' ');
}
