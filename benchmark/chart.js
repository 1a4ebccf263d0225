'use strict'

// An SVG line chart of throughput (GB/s) against block size, one line per
// system, one panel per operation. No dependencies: plain SVG text.

const COLORS = { '1.x': '#d62728', '2.x': '#1f77b4', 'shm-typed-array': '#2ca02c', 'Buffer.copy': '#7f7f7f' }
const PANELS = [
  ['write', 'write(buffer)'],
  ['readBuffer', 'readBuffer()'],
]

function chart(results, sizes, label) {
  const width = 420
  const height = 300
  const margin = { left: 56, right: 16, top: 36, bottom: 48 }
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const series = PANELS.map(([group]) => {
    const lines = {}
    for (const c of results.filter((r) => r.group === group)) {
      for (const [system, r] of Object.entries(c.results)) {
        ;(lines[system] ??= []).push([c.size, c.size / r.median]) // bytes per ns = GB/s
      }
    }
    return lines
  })
  const x = (size) => margin.left + (sizes.indexOf(size) / (sizes.length - 1)) * plotW
  const parts = []
  PANELS.forEach(([, title], index) => {
    // Each panel its own scale, with about five grid lines at round values.
    const top = Math.max(...Object.values(series[index]).flat().map(([, gbps]) => gbps))
    const step = niceStep(top / 5)
    const yMax = Math.ceil(top / step) * step
    const y = (gbps) => round(margin.top + plotH - (gbps / yMax) * plotH)
    const dx = index * width
    const g = [`<g transform="translate(${dx},0)">`, `<text x="${width / 2}" y="20" text-anchor="middle" font-weight="bold">${title}</text>`]
    for (let v = 0; v <= yMax + step / 2; v += step) {
      g.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`)
      g.push(`<text x="${margin.left - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(3)}</text>`)
    }
    for (const size of sizes) g.push(`<text x="${x(size)}" y="${height - margin.bottom + 18}" text-anchor="middle">${label(size)}</text>`)
    g.push(`<text x="14" y="${margin.top + plotH / 2}" transform="rotate(-90 14 ${margin.top + plotH / 2})" text-anchor="middle">GB/s</text>`)
    g.push(`<text x="${margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle">block size</text>`)
    for (const [system, points] of Object.entries(series[index])) {
      const color = COLORS[system] ?? '#000'
      g.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([s, v]) => `${x(s)},${y(v)}`).join(' ')}"/>`)
      for (const [s, v] of points) g.push(`<circle cx="${x(s)}" cy="${y(v)}" r="3" fill="${color}"/>`)
    }
    g.push('</g>')
    parts.push(g.join('\n'))
  })
  const legend = Object.entries(COLORS).map(([system, color], i) =>
    `<g transform="translate(${margin.left + i * 170},${height + 8})"><rect width="12" height="12" fill="${color}"/><text x="18" y="11">${system}</text></g>`,
  )
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width * PANELS.length}" height="${height + 30}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    ...legend,
    '</svg>',
    '',
  ].join('\n')
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw)
}

const round = (n) => Math.round(n * 10) / 10

module.exports = chart
