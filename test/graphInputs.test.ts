import { describe, expect, it } from 'vitest';
import { parseCalibrationFile, parseInputFile } from '../src/graph/inputs.js';
import type { ValueInfo } from '../src/graph/ir.js';
import { expectZkinferError } from './helpers/errors.js';

const X: ValueInfo = { name: 'x', dtype: 'float', shape: [2, 3] };
const IDS: ValueInfo = { name: 'ids', dtype: 'int', shape: [4] };
const MASK: ValueInfo = { name: 'mask', dtype: 'bool', shape: [2] };
const DOTTED: ValueInfo = { name: 'input.1', dtype: 'float', shape: [2] };
const ONE = [X];
const THREE = [X, IDS, MASK];
const WHAT = 'input file in.json';

const plain = (m: Map<string, Float64Array>) => Object.fromEntries([...m].map(([k, v]) => [k, Array.from(v)]));
const bad = (json: unknown, inputs: ValueInfo[], ...parts: string[]) => expectZkinferError(() => parseInputFile(json, inputs, WHAT), 'BAD_INPUT', WHAT, ...parts);
const badCal = (json: unknown, inputs: ValueInfo[], ...parts: string[]) =>
  expectZkinferError(() => parseCalibrationFile(json, inputs, 'calibration c.json'), 'BAD_INPUT', 'calibration c.json', ...parts);

describe('parseInputFile: accepted forms', () => {
  it('a flat array for a one-input graph', () => {
    expect(plain(parseInputFile([1, 2, 3, 4, 5, 6.5], ONE, WHAT))).toEqual({ x: [1, 2, 3, 4, 5, 6.5] });
  });

  it('a nested array, flattened row-major, with or without a leading batch of 1', () => {
    expect(
      plain(
        parseInputFile(
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          ONE,
          WHAT,
        ),
      ),
    ).toEqual({ x: [1, 2, 3, 4, 5, 6] });
    expect(
      plain(
        parseInputFile(
          [
            [
              [1, 2, 3],
              [4, 5, 6],
            ],
          ],
          ONE,
          WHAT,
        ),
      ),
    ).toEqual({ x: [1, 2, 3, 4, 5, 6] });
    expect(plain(parseInputFile([[1, 2, 3, 4]], [IDS], WHAT))).toEqual({ ids: [1, 2, 3, 4] });
  });

  it('an object naming every input, in any key order, flat or nested', () => {
    const json = {
      mask: [true, 0],
      ids: [1, -2, 3, 40],
      x: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    };
    expect(plain(parseInputFile(json, THREE, WHAT))).toEqual({ x: [1, 2, 3, 4, 5, 6], ids: [1, -2, 3, 40], mask: [1, 0] });
  });

  it('a scalar input as a bare value or a one-element array', () => {
    const s: ValueInfo = { name: 's', dtype: 'float', shape: [] };
    expect(plain(parseInputFile({ s: 2.5 }, [s], WHAT))).toEqual({ s: [2.5] });
    expect(plain(parseInputFile({ s: [2.5] }, [s], WHAT))).toEqual({ s: [2.5] });
  });

  it("EZKL's input.json: one array per input in graph order, other keys ignored", () => {
    const json = {
      input_data: [
        [1, 2, 3, 4, 5, 6],
        [7, 8, 9, 10],
        [1, false],
      ],
      input_shapes: [[1, 2, 3]],
      output_data: [[0]],
    };
    expect(plain(parseInputFile(json, THREE, WHAT))).toEqual({ x: [1, 2, 3, 4, 5, 6], ids: [7, 8, 9, 10], mask: [1, 0] });
    expect(plain(parseInputFile({ input_data: [[0.5, 1, 2, 3, 4, 5]] }, ONE, WHAT))).toEqual({ x: [0.5, 1, 2, 3, 4, 5] });
  });

  it('an input actually named input_data is read by name', () => {
    const v: ValueInfo = { name: 'input_data', dtype: 'float', shape: [2] };
    expect(plain(parseInputFile({ input_data: [1, 2] }, [v], WHAT))).toEqual({ input_data: [1, 2] });
  });

  it('returns float64 arrays', () => {
    expect(parseInputFile([1, 2, 3, 4, 5, 6], ONE, WHAT).get('x')).toBeInstanceOf(Float64Array);
  });
});

describe('parseInputFile: errors name the file, the field, the value and what was expected', () => {
  it('wrong count', () => {
    bad([1, 2, 3, 4, 5], ONE, 'the array has 5 values', "expected 6 for input 'x' (float, shape [2,3])");
    bad({ x: [1, 2, 3, 4, 5, 6], ids: [1, 2, 3], mask: [1, 0] }, THREE, 'ids has 3 values', "expected 4 for input 'ids' (int, shape [4])");
    bad({ input_data: [[1, 2, 3, 4, 5, 6, 7]] }, ONE, 'input_data[0] has 7 values', 'expected 6');
    bad({ input_data: [[1, 2, 3, 4, 5, 6]] }, THREE, 'input_data has 1 entry', 'expected one array of values per input: 3 (x, ids, mask)');
  });

  it('NaN and infinities', () => {
    bad([1, 2, NaN, 4, 5, 6], ONE, '[2] is NaN', 'expected a finite number', "input 'x'");
    bad({ input_data: [[1, 2, 3, 4, 5, Infinity]] }, ONE, 'input_data[0][5] is Infinity', 'expected a finite number');
  });

  it('strings, null and other non-numbers', () => {
    bad({ x: [1, 2, 3, '4', 5, 6], ids: [1, 2, 3, 4], mask: [1, 0] }, THREE, 'x[3] is "4"', 'expected a finite number');
    bad({ input_data: [[1, 2, 3, 4, 5, null]] }, ONE, 'input_data[0][5] is null', 'expected a finite number');
    bad(
      [
        [1, 2, 3],
        [4, { v: 5 }, 6],
      ],
      ONE,
      '[1][1] is {"v":5}',
      'expected a finite number',
    );
    bad([true, 2, 3, 4, 5, 6], ONE, '[0] is true', 'expected a finite number');
  });

  it('integers for int inputs, booleans for bool inputs', () => {
    bad({ x: [1, 2, 3, 4, 5, 6], ids: [1, 2.5, 3, 4], mask: [1, 0] }, THREE, 'ids[1] is 2.5', "expected an integer (input 'ids' (int, shape [4]))");
    bad({ x: [1, 2, 3, 4, 5, 6], ids: [1, 2, 3, 4], mask: [1, 2] }, THREE, 'mask[1] is 2', 'expected true, false, 0 or 1', "input 'mask'");
    bad({ x: [1, 2, 3, 4, 5, 6], ids: [1, 2, 3, 4], mask: ['true', 0] }, THREE, 'mask[0] is "true"', 'expected true, false, 0 or 1');
  });

  it('a missing input', () => {
    bad({ x: [1, 2, 3, 4, 5, 6], mask: [1, 0] }, THREE, "has no field 'ids'", "input 'ids' (int, shape [4]) is missing");
    // Only the object's own fields count, not Object.prototype's.
    bad({}, [{ name: 'toString', dtype: 'float', shape: [1] }], "has no field 'toString'");
  });

  it('an unknown input name', () => {
    bad({ x: [1, 2, 3, 4, 5, 6], y: [1] }, ONE, 'y names no input of the model', "expected only 'x'", 'or a bare array');
    bad({ x: [1, 2, 3, 4, 5, 6], ids: [1, 2, 3, 4], mask: [1, 0], 'input.1': [] }, THREE, '"input.1" names no input', "'x', 'ids', 'mask'");
  });

  it('a bare array for a graph with several inputs', () => {
    bad([1, 2, 3], THREE, 'the file holds a bare array', 'only accepted for a model with one input', 'this model has 3 (x, ids, mask)', '{"input_data"');
  });

  it('not an array or object at all', () => {
    bad(42, ONE, 'the file holds 42', 'expected an array of values, an object naming each input');
    bad({ x: 7 }, ONE, 'x is 7', "expected an array of 6 values for input 'x'");
    bad({ input_data: 'abc' }, ONE, 'input_data is "abc"', 'expected an array holding one array of values per input');
  });

  it('wrong nesting', () => {
    // EZKL rows must be arrays, one per input.
    bad({ input_data: [1, 2, 3, 4, 5, 6] }, ONE, 'input_data has 6 entries', 'expected one array of values per input: 1 (x)');
    bad({ input_data: [5] }, ONE, 'input_data[0] is 5', "expected an array of values for input 'x'");
    // Ragged arrays and arrays mixed with values.
    bad(
      [
        [1, 2, 3],
        [4, 5],
      ],
      ONE,
      '[1] is nested as 2 where [0] is 3',
      'expected a rectangular nested array',
    );
    bad([[1, 2, 3], 4, 5, 6], ONE, '[1] is 4 where [0] is an array', 'rectangular');
    bad({ x: [1, [2, 3], 4, 5, 6] }, ONE, 'x[1] is an array where x[0] is a value');
    // Rectangular but not the input's shape.
    bad(
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      ONE,
      'the array is nested as 3x2',
      "expected the shape of input 'x' (float, shape [2,3]) or a flat array of 6 values",
    );
    bad(
      {
        input_data: [
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
        ],
      },
      ONE,
      'input_data[0] is nested as 3x2',
    );
  });

  it('quotes input names that are not identifiers', () => {
    expect(plain(parseInputFile({ 'input.1': [1, 2] }, [DOTTED], WHAT))).toEqual({ 'input.1': [1, 2] });
    bad({ 'input.1': [1, 'a'] }, [DOTTED], '"input.1"[1] is "a"');
  });

  it('keeps the message on one line and long values short', () => {
    let message = '';
    try {
      parseInputFile([1, 2, 3, 4, 5, 'line one\nline two and a lot more text after it'], ONE, WHAT);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toContain('\n');
    expect(message).toContain('[5] is "line one\\nline two and a lot more te..., expected a finite number');
  });
});

describe('parseCalibrationFile', () => {
  it('an array of flat samples (the calibration format of the layer models)', () => {
    const out = parseCalibrationFile(
      [
        [1, 2, 3, 4, 5, 6],
        [6, 5, 4, 3, 2, 1],
      ],
      ONE,
      'c',
    );
    expect(out.map(plain)).toEqual([{ x: [1, 2, 3, 4, 5, 6] }, { x: [6, 5, 4, 3, 2, 1] }]);
  });

  it('an array of nested samples', () => {
    const out = parseCalibrationFile(
      [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        [
          [0, 0, 0],
          [1, 1, 1],
        ],
      ],
      ONE,
      'c',
    );
    expect(out.map(plain)).toEqual([{ x: [1, 2, 3, 4, 5, 6] }, { x: [0, 0, 0, 1, 1, 1] }]);
  });

  it('an array of samples in object and EZKL forms, mixed', () => {
    const a = { x: [1, 2, 3, 4, 5, 6], ids: [1, 2, 3, 4], mask: [0, 1] };
    const b = {
      input_data: [
        [0, 0, 0, 0, 0, 0],
        [5, 6, 7, 8],
        [true, true],
      ],
    };
    expect(parseCalibrationFile([a, b], THREE, 'c').map(plain)).toEqual([
      { x: [1, 2, 3, 4, 5, 6], ids: [1, 2, 3, 4], mask: [0, 1] },
      { x: [0, 0, 0, 0, 0, 0], ids: [5, 6, 7, 8], mask: [1, 1] },
    ]);
  });

  it('a single sample: bare flat, nested, named, or an EZKL input.json', () => {
    expect(parseCalibrationFile([1, 2, 3, 4, 5, 6], ONE, 'c').map(plain)).toEqual([{ x: [1, 2, 3, 4, 5, 6] }]);
    expect(
      parseCalibrationFile(
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        ONE,
        'c',
      ).map(plain),
    ).toEqual([{ x: [1, 2, 3, 4, 5, 6] }]);
    expect(parseCalibrationFile({ x: [1, 2, 3, 4, 5, 6] }, ONE, 'c').map(plain)).toEqual([{ x: [1, 2, 3, 4, 5, 6] }]);
    const ezkl = { input_data: [[1, 2, 3, 4, 5, 6]], output_data: [[1]] };
    expect(parseCalibrationFile(ezkl, ONE, 'c').map(plain)).toEqual([{ x: [1, 2, 3, 4, 5, 6] }]);
  });

  it('errors name the sample', () => {
    badCal([], ONE, 'the array of samples is empty');
    badCal(
      [
        [1, 2, 3, 4, 5, 6],
        [1, 2, 3, 4, 5],
      ],
      ONE,
      '[1] has 5 values',
      'expected 6',
    );
    badCal(
      [
        [1, 2, 3, 4, 5, 6],
        [1, 2, 3, NaN, 5, 6],
      ],
      ONE,
      '[1][3] is NaN',
      'expected a finite number',
    );
    badCal([{ x: [1, 2, 3, 4, 5, 6] }, { x: [1, 2, 3, 'a', 5, 6] }], ONE, '[1].x[3] is "a"');
    badCal([{ x: [1, 2, 3, 4, 5, 6] }, { z: [] }], ONE, '[1].z names no input');
    badCal([{ x: [1, 2, 3, 4, 5, 6] }, {}], ONE, "[1] has no field 'x'");
    badCal([{ input_data: [[1, 2, 3, 4, 5, 6]] }, { input_data: [[1, 2, 3, 4, 5, null]] }], ONE, '[1].input_data[0][5] is null');
    badCal([{ x: [1, 2, 3, 4, 5, 6] }, 7], ONE, '[1] is 7', 'expected an array of values, an object naming each input');
    badCal(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      THREE,
      '[0] is a bare array',
      'only accepted for a model with one input',
    );
    badCal([1, 2, [3]], ONE, '[2] is an array where [0] is a value');
  });
});
