/** A Dockerfile read into its instructions, grouped by build stage: enough for cheap checks. */

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined with spaces. */
  args: string;
  line: number;
}

export interface Stage {
  /** The image the stage starts from. */
  from: string;
  /** `FROM ... AS name`, if named. */
  name: string | undefined;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comments and blank lines, also between continuation lines (as docker allows).
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const continues = trimmed.endsWith('\\');
    const body = continues ? trimmed.slice(0, -1).trim() : trimmed;
    pending = pending ? { text: `${pending.text} ${body}`, line: pending.line } : { text: body, line: index + 1 };
    if (continues) return;
    const match = /^(\S+)\s*(.*)$/.exec(pending.text)!;
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error(`line ${pending.line}: the last instruction ends with a continuation`);

  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      stages.push({ from: match[1]!, name: match[2], instructions: [] });
    } else if (instruction.keyword === 'ARG' && stages.length === 0) {
      continue;
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`line ${instruction.line}: ${instruction.keyword} before the first FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

/** The arguments of every instruction with this keyword in a stage. */
export function argsOf(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

/** Packages named by `apt-get install` in a stage. */
export function aptPackages(stage: Stage): string[] {
  return argsOf(stage, 'RUN').flatMap((run) =>
    [...run.matchAll(/apt-get install((?:\s+(?!&&)\S+)+)/g)].flatMap((match) => match[1]!.trim().split(/\s+/).filter((word) => !word.startsWith('-'))),
  );
}

/** Source paths of COPY instructions that read the build context (not another stage). */
export function contextSources(stage: Stage): string[] {
  return argsOf(stage, 'COPY')
    .filter((args) => !args.startsWith('--from'))
    .flatMap((args) => {
      const words = args.split(/\s+/).filter((word) => !word.startsWith('--'));
      return words.slice(0, -1);
    });
}
