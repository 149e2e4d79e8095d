import { axonize } from './axonize.js';
import { axonpush } from './axonpush.js';
import { cognito } from './cognito.js';
import { datarhei } from './datarhei.js';
import type { Preset } from './types.js';

export type { Preset, PresetContext } from './types.js';
export { managementEndpoints, under } from './shared.js';
export { datarhei, DEFAULT_CORE_VERSION, type DatarheiOptions } from './datarhei.js';

/** The built-in wire contracts, by name. */
export const presets = { axonpush, cognito, axonize, datarhei: datarhei() } satisfies Record<string, Preset>;

export type PresetName = keyof typeof presets;

export function resolvePreset(preset: PresetName | Preset | undefined): Preset {
  if (preset === undefined) return axonpush;
  if (typeof preset === 'string') {
    const found = (presets as Record<string, Preset>)[preset];
    if (!found) throw new TypeError(`unknown preset ${JSON.stringify(preset)}: use one of ${Object.keys(presets).join(', ')}, or pass a Preset object`);
    return found;
  }
  if (typeof preset !== 'object' || preset === null || typeof preset.endpoints !== 'function' || typeof preset.name !== 'string') {
    throw new TypeError('options.preset must be a preset name or an object with `name` and `endpoints(ctx)`');
  }
  return preset;
}
