import { describe, expect, it } from 'vitest';
import { pipeLexer } from '../../grammar/lexer.ts';

function lex(text: string): string[] {
  const result = pipeLexer.tokenize(text);
  expect(result.errors).toEqual([]);
  return result.tokens.map((token) => `${token.tokenType.name}:${token.image}`);
}

describe('lexer', () => {
  it('reads names that start with digits', () => {
    expect(lex('1f1b 2bw 12abc')).toEqual(['DigitName:1f1b', 'DigitName:2bw', 'DigitName:12abc']);
  });

  it('reads quantities with byte, bandwidth, time and compute units', () => {
    expect(lex('16GiB 512MiB 2B 3KB 1TiB 50GB/s 12KiB/s 10us 5ns 1ms 2s 100TFLOPS 2.5GFLOPS 1PFLOPS 7FLOPS')).toEqual([
      'QuantityLiteral:16GiB',
      'QuantityLiteral:512MiB',
      'QuantityLiteral:2B',
      'QuantityLiteral:3KB',
      'QuantityLiteral:1TiB',
      'QuantityLiteral:50GB/s',
      'QuantityLiteral:12KiB/s',
      'QuantityLiteral:10us',
      'QuantityLiteral:5ns',
      'QuantityLiteral:1ms',
      'QuantityLiteral:2s',
      'QuantityLiteral:100TFLOPS',
      'QuantityLiteral:2.5GFLOPS',
      'QuantityLiteral:1PFLOPS',
      'QuantityLiteral:7FLOPS',
    ]);
  });

  it('reads plain numbers, including exponents, and not a unit glued to a longer name', () => {
    expect(lex('1e-3 0.5 256 2E+4')).toEqual([
      'NumberLiteral:1e-3',
      'NumberLiteral:0.5',
      'NumberLiteral:256',
      'NumberLiteral:2E+4',
    ]);
    expect(lex('16GiBx 2Bw')).toEqual(['DigitName:16GiBx', 'DigitName:2Bw']);
  });

  it('splits ranges, wildcards and arrows', () => {
    expect(lex('gpu[*] 0..4 m-w..m a<->b c->d')).toEqual([
      'Identifier:gpu', 'LBracket:[', 'Star:*', 'RBracket:]',
      'NumberLiteral:0', 'DotDot:..', 'NumberLiteral:4',
      'Identifier:m', 'Minus:-', 'Identifier:w', 'DotDot:..', 'Identifier:m',
      'Identifier:a', 'BiArrow:<->', 'Identifier:b',
      'Identifier:c', 'Arrow:->', 'Identifier:d',
    ]);
    expect(lex('<= >= == != && || < > ! %')).toEqual([
      'LessEqual:<=', 'GreaterEqual:>=', 'EqualEqual:==', 'NotEqual:!=', 'AndAnd:&&', 'OrOr:||',
      'Less:<', 'Greater:>', 'Bang:!', 'Percent:%',
    ]);
  });

  it('reads keywords only as whole words', () => {
    expect(lex('input in index model models inputs')).toEqual([
      'Input:input', 'In:in', 'Identifier:index', 'Model:model', 'Identifier:models', 'Identifier:inputs',
    ]);
  });

  it('keeps comments in their own group and strings with escapes whole', () => {
    const result = pipeLexer.tokenize('a // line\n/* block\n */ "x\\"y" b');
    expect(result.tokens.map((t) => t.image)).toEqual(['a', '"x\\"y"', 'b']);
    expect(result.groups.comments.map((t) => t.image)).toEqual(['// line', '/* block\n */']);
  });

  it('reports characters that start no token', () => {
    const result = pipeLexer.tokenize('a @ b');
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].offset).toBe(2);
  });
});
