// Package territories owns the French territorial facts courrier needs: a
// postal code's département, its time zone and telephone numbering region,
// the national and local public holidays of any year, and working days.
//
// A Territory is one département or overseas collectivity. Its Calendar
// holds its time zone and holidays: the eleven national holidays of the
// Labour Code (article L3133-1), Good Friday and 26 December in
// Alsace-Moselle (57, 67, 68), and the day of the abolition of slavery in
// each overseas territory that has one (Mayotte 27 April, Martinique 22 May,
// Guadeloupe 27 May, Saint-Martin 28 May, Guyane 10 June, Saint-Barthélemy
// 9 October, La Réunion 20 December).
//
// Postal codes map to départements by their first two digits (three for
// 97x and 98x), with Corsica's 20xxx split between 2A and 2B, and two
// collectivities that use Guadeloupe's codes: 97133 is Saint-Barthélemy and
// 97150 is Saint-Martin.
package territories
